"""What comes through a Redis outage intact, against a real redis-server we stop,
restart or pause: a task reporting Progress keeps running and completes; the
strike rules follow what Redis holds after it lost its data; and a stall of
Redis longer than the redelivery timeout runs no task twice."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest

from docket import Docket, Execution, ExecutionState, Progress, Retry, Worker
from tests._support.servers import RedisServer
from tests.conftest import eventually

pytestmark = pytest.mark.slow

runs: Counter[str] = Counter()
seen_current: dict[str, int | None] = {}
OPTIONS = "?socket_timeout=1&socket_connect_timeout=1"


async def reporting(label: str, steps: int, progress: Progress = Progress()) -> None:
    """Reports progress every 50 ms, ``steps`` times."""
    runs[label] += 1
    await progress.set_total(steps)
    for step in range(steps):
        await progress.set_message(f"step {step + 1}")
        await progress.increment()
        await asyncio.sleep(0.05)
    seen_current[label] = progress.current


gate = asyncio.Event()


async def fails_once(label: str, retry: Retry = Retry(attempts=3)) -> str:
    """Fails its first attempt once ``gate`` opens; succeeds on the next."""
    runs[label] += 1
    if runs[label] == 1:
        await gate.wait()
        raise ValueError("first attempt fails")
    return "second attempt"


async def holding(label: str, seconds: float) -> None:
    runs[label] += 1
    await asyncio.sleep(seconds)


@pytest.fixture
def server() -> Iterator[RedisServer]:
    server = RedisServer().start()  # durable (AOF, fsync always)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
async def docket(server: RedisServer) -> AsyncIterator[Docket]:
    runs.clear()
    seen_current.clear()
    async with Docket(name="outage", url=server.url + OPTIONS) as docket:
        docket.register(reporting)
        docket.register(holding)
        docket.register(fails_once)
        yield docket


def worker_for(docket: Docket, redelivery: float, **options: object) -> Worker:
    settings: dict[str, object] = {
        "concurrency": 8,
        "redelivery_timeout": timedelta(seconds=redelivery),
        "reconnection_delay": timedelta(milliseconds=50),
        "minimum_check_interval": timedelta(milliseconds=10),
        "scheduling_resolution": timedelta(milliseconds=10),
    }
    settings.update(options)
    return Worker(docket, **settings)  # type: ignore[arg-type]


async def completed(execution: Execution) -> bool:
    await execution.sync()
    return execution.state is ExecutionState.COMPLETED


async def test_a_task_reporting_progress_through_a_3s_outage_completes(
    docket: Docket, server: RedisServer
):
    """redis-server stopped for 3 s (shorter than the 5 s redelivery timeout)
    while a task reports progress every 50 ms: no report fails the task, its
    local progress keeps counting, and it completes, run once."""
    execution = await docket.add(reporting, key="reporter")("reporter", 120)
    async with worker_for(docket, 5.0) as worker:
        running = asyncio.ensure_future(worker.run_forever())
        await eventually(lambda: runs["reporter"] == 1, 10)
        server.stop()
        await asyncio.sleep(3.0)  # the outage itself
        server.start()
        await eventually(lambda: completed(execution), 20, 0.05)
        worker.stop()
        await running
    assert dict(runs) == {"reporter": 1}
    assert seen_current == {"reporter": 120}


async def test_a_retry_scheduled_while_redis_is_down_still_happens(
    docket: Docket, server: RedisServer
):
    """A task with Retry fails while redis-server is stopped: scheduling its
    retry fails too, and is tried again (same attempt, same delay) until Redis
    is back, instead of ending the run failed. The second attempt completes."""
    gate.clear()
    execution = await docket.add(fails_once, key="retried")("retried")
    async with worker_for(docket, 5.0) as worker:
        running = asyncio.ensure_future(worker.run_forever())
        await eventually(lambda: runs["retried"] == 1, 10)
        server.stop()
        gate.set()  # the first attempt fails now, with Redis down
        await asyncio.sleep(2.0)  # the outage itself: the retry waits for Redis
        server.start()
        await eventually(lambda: completed(execution), 20, 0.05)
        worker.stop()
        await running
    assert runs["retried"] == 2
    assert await execution.get_result() == "second attempt"


async def test_strikes_follow_redis_after_it_lost_its_data(
    server: RedisServer, caplog: pytest.LogCaptureFixture
):
    """A docket's strike rules after redis-server restarts without its data: the
    strike Redis no longer holds stops applying (logged as a restore), a strike
    made afterwards applies, and the monitor told the outage once (naming the
    URL), not once a second."""
    volatile = RedisServer(durable=False).start()
    try:
        url = volatile.url + OPTIONS
        async with (
            Docket(name="strikes", url=url) as sender,
            Docket(name="strikes", url=url) as follower,
        ):
            await sender.strike("lost_task")
            await eventually(
                lambda: "lost_task" in follower.strike_list.struck_functions
            )
            with caplog.at_level(logging.INFO):
                volatile.stop()
                await asyncio.sleep(4.0)  # the outage itself: the monitor backs off
                volatile.start()
                await eventually(
                    lambda: not follower.strike_list.struck_functions, 15, 0.05
                )
                await sender.strike("new_task")
                await eventually(
                    lambda: follower.strike_list.struck_functions == {"new_task"}, 10
                )
    finally:
        volatile.close()
    messages = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    warnings = [m for m in messages if m[1] == "WARNING"]
    assert len(warnings) == 1, warnings
    assert f"127.0.0.1:{volatile.port}/0" in warnings[0][2]
    assert any("Restoring lost_task" in m[2] for m in messages), messages


async def test_a_stall_longer_than_the_redelivery_timeout_runs_nothing_twice(
    server: RedisServer,
):
    """CLIENT PAUSE for 2.5 s, longer than the 1 s redelivery timeout, while one
    worker holds long tasks and another is idle (its sweep would take anything
    idle for 1 s): when Redis answers again every lease looks expired, yet the
    idle worker, which lived through the same stall, sweeps only after the
    grace, by which time the owner has renewed. Every task runs once."""
    runs.clear()
    url = server.url + OPTIONS
    async with (
        Docket(name="stall", url=url) as owner_docket,
        Docket(name="stall", url=url) as idle_docket,
    ):
        for docket in (owner_docket, idle_docket):
            docket.register(holding)
        async with worker_for(owner_docket, 1.0) as owner:
            owning = asyncio.ensure_future(owner.run_forever())
            executions = [
                await owner_docket.add(holding, key=f"held-{i}")(f"held-{i}", 4.0)
                for i in range(6)
            ]
            await eventually(lambda: len(runs) == 6, 10)
            async with worker_for(idle_docket, 1.0) as idle:
                idling = asyncio.ensure_future(idle.run_forever())

                async def idle_listed() -> bool:
                    return idle.name in {w.name for w in await idle_docket.workers()}

                await eventually(idle_listed, 10)
                server.cli("CLIENT", "PAUSE", "2500", "ALL")
                await asyncio.sleep(2.6)  # the stall itself
                for execution in executions:
                    await eventually(lambda e=execution: completed(e), 20, 0.05)
                idle.stop()
                await idling
            owner.stop()
            await owning
    assert dict(runs) == {f"held-{i}": 1 for i in range(6)}
