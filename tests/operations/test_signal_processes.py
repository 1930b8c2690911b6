"""Signals with ``docket worker`` processes on a real redis-server: tasks waiting
for signals hold no slot (a concurrency-2 worker drains other work at its plain
rate beside 200 or 1,000 of them), each signalled task runs once with its payload, a signal
sent before its waiter is added is consumed, and a timeout takes the default."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from docket import Docket
from tests._support.cli import WorkerProcess
from tests._support.servers import RedisServer
from tests._support.signal_tasks import approved, patient, plain
from tests._support.waits import docket_workers
from tests.conftest import eventually

pytestmark = pytest.mark.slow

OTHERS = 500


@pytest.fixture
def worker_cli_factory(
    docket_name: str, tmp_path: Path
) -> Iterator[Callable[[str], WorkerProcess]]:
    """Starts ``docket worker --concurrency 2`` on the test's docket at a URL."""
    with docket_workers(
        docket_name, "tests._support.signal_tasks:tasks", tmp_path
    ) as start:
        yield start


@pytest.fixture
def worker_cli(
    redis_server: RedisServer,
    worker_cli_factory: Callable[[str], WorkerProcess],
) -> WorkerProcess:
    """``docket worker --concurrency 2`` on the session's redis-server."""
    return worker_cli_factory(redis_server.url)


async def _notes(docket: Docket, kind: str) -> list[Any]:
    async with docket.redis() as client:
        raw = await client.lrange(docket.key(f"test-{kind}"), 0, -1)
    return [json.loads(item) for item in raw]


async def _drain(docket: Docket, first: int) -> float:
    """Add OTHERS plain tasks numbered from ``first``; seconds until all ran."""
    calls = [docket.call(plain)(first + n) for n in range(OTHERS)]
    started = time.monotonic()
    await docket.add_many(calls)

    async def done() -> bool:
        return len(await _notes(docket, "plain")) >= first + OTHERS

    await eventually(done, timeout=120, interval=0.02)
    return time.monotonic() - started


@pytest.mark.parametrize("waiters", [200, 1000])
async def test_waiting_tasks_hold_no_slot_and_each_runs_once_with_its_payload(
    redis_server: RedisServer,
    docket_name: str,
    worker_cli: WorkerProcess,
    waiters: int,
):
    """The bar: with 200 (and 1,000) tasks waiting for signals, a concurrency-2
    worker drains 500 other tasks about as fast as with none waiting (a generous
    ratio); then as many signals, sent concurrently, run each waiter exactly once with its payload;
    a signal sent before its waiter is added is consumed by it; a timeout runs the
    task with the default."""
    async with Docket(name=docket_name, url=redis_server.url) as docket:
        for task in (plain, approved, patient):
            docket.register(task)

        async def worker_up() -> bool:
            return len(await docket.workers()) == 1

        await eventually(worker_up, timeout=30)
        plain_seconds = await _drain(docket, 0)  # the worker's plain rate

        await docket.add_many(
            [docket.call(approved, key=f"approved-{n}")(n) for n in range(waiters)]
        )
        waiting_seconds = await _drain(docket, OTHERS)
        assert await _notes(docket, "approved") == []  # all still waiting
        assert waiting_seconds < plain_seconds * 3 + 1.0, (
            f"{OTHERS} tasks took {waiting_seconds:.2f}s beside {waiters} waiting, "
            f"{plain_seconds:.2f}s alone"
        )

        sent = await asyncio.gather(
            *(docket.signal(f"go-{n}", {"n": n, "ok": True}) for n in range(waiters))
        )
        assert all(sent), "every signal released its waiter"
        assert await docket.signal("go-early", "before") is False  # kept
        early = await docket.add(approved, key="approved-early")("early")
        await docket.add(patient, key="patient")(1)

        async def all_ran() -> bool:
            return len(await _notes(docket, "approved")) >= waiters + 1 and bool(
                await _notes(docket, "patient")
            )

        await eventually(all_ran, timeout=60, interval=0.05)

        async def idle() -> bool:  # nothing left that could run a second time
            snapshot = await docket.snapshot()
            return not snapshot.running and snapshot.total_tasks == 0

        await eventually(idle, timeout=30)
        runs = await _notes(docket, "approved")
        counts = Counter(json.dumps(run[0]) for run in runs)
        assert all(count == 1 for count in counts.values()), counts.most_common(3)
        assert len(runs) == waiters + 1
        for n, payload in runs:
            if n == "early":
                assert payload == "before"
            else:
                assert payload == {"n": n, "ok": True}
        assert await _notes(docket, "patient") == [[1, "none"]]
        await early.sync()
        assert early.state.value == "completed"


async def test_waits_and_kept_signals_survive_a_redis_restart(
    docket_name: str,
    worker_cli_factory: Callable[[str], WorkerProcess],
):
    """Waits and kept signals live only in Redis: after redis-server restarts (AOF)
    a task that waited before is released by a signal sent after, and a signal
    kept before is consumed by a task added after; a ``docket worker`` started
    after the restart runs both once."""
    server = RedisServer().start()  # durable (AOF, fsync always)
    try:
        async with Docket(name=docket_name, url=server.url) as docket:
            for task in (plain, approved, patient):
                docket.register(task)
            await docket.add(approved, key="before")(1)
            assert await docket.signal("go-2", "kept") is False
        await asyncio.to_thread(server.restart)
        async with Docket(name=docket_name, url=server.url) as docket:
            assert await docket.signal("go-1", "after") is True
            await docket.add(approved, key="after")(2)
            worker = worker_cli_factory(server.url)

            async def both_ran() -> bool:
                return len(await _notes(docket, "approved")) >= 2

            await eventually(both_ran, timeout=30)
            assert sorted(await _notes(docket, "approved")) == [
                [1, "after"],
                [2, "kept"],
            ]
            worker.close()
    finally:
        server.close()
