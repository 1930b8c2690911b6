"""Drain phases for isolated tasks (ours only: pydocket has no ``Isolated``).

``drain_c{10,100}_isolated``: N isolated no-ops through the default pool (its
children started and warm before the clock starts). ``drain_c{10,100}_pooled``:
N plain no-ops on a worker whose pool is up, to compare with ``drain_c*``: a
worker's own throughput must not change because it has children.
``drain_c{10,100}_depends``: the same no-op with the same ``Depends`` as the
isolated one, run in the worker: the isolated drain's cost beyond isolation.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from _measure import COMPLETED, SETUP_CHUNK, Window, noop

from docket import Depends, Isolated


def count() -> None:
    """Resolved in the worker: counts the isolated no-op there."""
    COMPLETED[0] += 1


def isolated_noop(
    counted: None = Depends(count), isolated: Isolated = Isolated()
) -> None:
    """The benchmarked isolated no-op: its body runs in a child process."""


def counted_noop(counted: None = Depends(count)) -> None:
    """The same no-op with the same dependency, run in the worker: what the
    isolated drain costs beyond isolation itself."""


def _child_cpu(worker: Any) -> float:
    """CPU seconds the worker's children used so far (from /proc)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pool in worker.isolation.pools.values():
        for child in pool.children:
            try:
                with open(f"/proc/{child.pid}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
            except (OSError, ValueError, IndexError):
                pass
    return total


async def _warm(docket: Any, worker: Any) -> None:
    """Start the worker's pools and wait until every child is ready."""
    await docket.add(isolated_noop)()
    await worker.run_until_finished()
    deadline = time.monotonic() + 60
    while worker.isolation is None or worker.isolation.alive < sum(
        pool.size for pool in worker.isolation.pools.values()
    ):
        if time.monotonic() > deadline:
            raise RuntimeError("the isolated pool did not start")
        await asyncio.sleep(0.05)


async def drain(bench: Any, phase: str, concurrency: int, task: Any) -> Any:
    """Pre-load N ``task`` on a worker whose pool is warm, then time
    ``run_until_finished``."""
    n = bench.o.drain_tasks
    async with bench.open(phase, False) as docket:
        async with bench.worker(docket, concurrency, False) as worker:
            await _warm(docket, worker)
            for start in range(0, n, SETUP_CHUNK):
                size = min(SETUP_CHUNK, n - start)
                await asyncio.gather(*(docket.add(task)() for _ in range(size)))
            children_before = _child_cpu(worker)
            async with Window(bench.probe) as window:
                measured, capped = await bench.run_capped(worker, window)
            children = _child_cpu(worker) - children_before
    result = window.result(COMPLETED[0], measured)
    result["child_cpu_us_per_task"] = children * 1e6 / max(measured, 1)
    return {**result, "requested": n, "capped": capped, "measured": measured}


def phases(bench: Any) -> list[tuple[str, Callable[[], Awaitable[Any]]]]:
    plan: list[tuple[str, Callable[[], Awaitable[Any]]]] = []
    for c in (10, 100):
        for tag, task in (
            ("pooled", noop),
            ("depends", counted_noop),
            ("isolated", isolated_noop),
        ):
            plan.append(
                (
                    f"drain_c{c}_{tag}",
                    lambda c=c, t=task, g=tag: drain(bench, f"d{g}{c}", c, t),
                )
            )
    return plan
