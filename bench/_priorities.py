"""Priority phases (ours only: pydocket has no priorities).

``drain_c100_prio``: N no-op tasks spread over priorities 3, 5 and 7, drained by
one worker at c=100, to compare with ``drain_c100`` (the plain rate).
``late_p9``: a worker at c=10 works through a deep queue of priority-5 tasks
that sleep 10 ms each; a priority-9 task is added behind them, and the phase
reports how long it took from its add to its start (the median of a few).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from _measure import SETUP_CHUNK, noop

LATE: list[float] = []


async def short_sleep() -> None:
    await asyncio.sleep(0.01)


async def late(added: float) -> None:
    LATE.append(time.time() - added)


async def _load_spread(docket: Any, n: int) -> None:
    for start in range(0, n, SETUP_CHUNK):
        size = min(SETUP_CHUNK, n - start)
        calls = [
            docket.call(noop, priority=(3, 5, 7)[(start + i) % 3])()
            for i in range(size)
        ]
        await docket.add_many(calls)


async def drain_spread(bench: Any) -> dict[str, Any]:
    return await bench.drain("d100p", 100, False, loader=_load_spread)


async def late_p9(bench: Any, depth: int = 2000, rounds: int = 5) -> dict[str, Any]:
    delays: list[float] = []
    async with bench.open("latep9", False) as docket:
        docket.register(short_sleep)
        docket.register(late)
        async with bench.worker(docket, 10, False) as worker:
            running = asyncio.ensure_future(worker.run_forever())
            try:
                for _ in range(rounds):
                    await docket.add_many(
                        [docket.call(short_sleep)() for _ in range(depth)]
                    )
                    await asyncio.sleep(0.2)  # the worker is busy with the queue
                    LATE.clear()
                    await docket.add(late, priority=9)(time.time())
                    deadline = time.monotonic() + 30
                    while not LATE and time.monotonic() < deadline:
                        await asyncio.sleep(0.001)
                    delays.extend(LATE)
                    await docket.clear()
            finally:
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
    delays.sort()
    ms = [d * 1000 for d in delays]
    return {
        "p50_ms": ms[len(ms) // 2] if ms else None,
        "max_ms": ms[-1] if ms else None,
        "depth": depth,
        "rounds": rounds,
    }


def phases(bench: Any) -> list[tuple[str, Callable[[], Awaitable[dict[str, Any]]]]]:
    return [
        ("drain_c100_prio", lambda: drain_spread(bench)),
        ("late_p9", lambda: late_p9(bench)),
    ]
