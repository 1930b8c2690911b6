"""Suspend and Checkpoint with ``docket worker`` processes on a real redis-server:
a suspended task resumes after its signal without repeating the step before the
suspension, also when its worker was killed with SIGKILL meanwhile and when
redis-server (AOF) restarted while it waited."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from docket import Checkpoint, Docket, ExecutionState, Suspend, Worker
from tests._support.cli import WorkerProcess
from tests._support.servers import RedisServer
from tests._support.suspend_tasks import onboard
from tests._support.waits import docket_workers
from tests.conftest import eventually

pytestmark = pytest.mark.slow

USERS = 20


@pytest.fixture
def workers(
    docket_name: str, tmp_path: Path
) -> Iterator[Callable[[str], WorkerProcess]]:
    """Starts ``docket worker`` processes on the test's docket (redelivery 2 s)."""
    tasks = "tests._support.suspend_tasks:tasks"
    options = ("--redelivery-timeout", "2s")
    with docket_workers(docket_name, tasks, tmp_path, *options) as start:
        yield start


async def notes(docket: Docket, what: str) -> list[str]:
    async with docket.redis() as client:
        raw = await client.lrange(docket.key(f"test-{what}"), 0, -1)
    return [item.decode().rsplit("|", 1)[0] for item in raw]


async def all_waiting(docket: Docket, keys: list[str]) -> bool:
    for key in keys:
        execution = await docket.get_execution(key)
        if execution is None or execution.state is not ExecutionState.WAITING:
            return False
    return True


async def test_suspended_tasks_resume_after_their_signals_without_repeating_steps(
    own_redis_server: RedisServer,
    docket_name: str,
    workers: Callable[[str], WorkerProcess],
):
    """20 tasks welcome their user, then suspend for a signal on two worker
    processes. One worker is SIGKILLed and redis-server restarts (AOF) while
    they wait; a new worker comes. Each signal releases its task (True): it
    resumes with its payload, sleeps durably, completes once; no welcome is
    sent twice."""
    async with Docket(name=docket_name, url=own_redis_server.url) as docket:
        first, _ = workers(own_redis_server.url), workers(own_redis_server.url)
        keys = [f"onboard-{n}" for n in range(USERS)]
        executions = [
            await docket.add(onboard, key=key)(f"user{n}") for n, key in enumerate(keys)
        ]
        await eventually(lambda: all_waiting(docket, keys), timeout=30)
        first.signal(signal.SIGKILL)
        first.wait(timeout=10)
        await asyncio.to_thread(own_redis_server.restart)
        await eventually(lambda: all_waiting(docket, keys), timeout=30)
        workers(own_redis_server.url)
        for n in range(USERS):
            assert await docket.signal(f"verified-user{n}", n) is True
        results = [
            await execution.get_result(timeout=timedelta(seconds=60))
            for execution in executions
        ]
        assert results == [f"user{n}:{n}" for n in range(USERS)]
        assert sorted(await notes(docket, "welcome")) == sorted(keys)
        activated = await notes(docket, "activated")
        assert sorted(activated) == sorted(f"{k}:{n}" for n, k in enumerate(keys))


async def test_checkpoint_and_signal_calls_ride_through_a_redis_outage(
    own_redis_server: RedisServer, docket_name: str
):
    """Redis goes down while a task writes its checkpoint and takes a kept
    signal: the calls are tried again until it is back (AOF kept everything),
    the task completes once with the payload, its step done once."""
    done: list[str] = []
    down = asyncio.Event()

    async def outage() -> None:
        await asyncio.to_thread(own_redis_server.stop)
        down.set()
        await asyncio.sleep(0.5)  # the outage
        await asyncio.to_thread(own_redis_server.start)

    async def fragile(suspend: Suspend = Suspend(), steps: Checkpoint = Checkpoint()):
        if not await steps.done("charge"):
            done.append("charge")
            back = asyncio.ensure_future(outage())
            await down.wait()
            await steps.mark("charge")
            payload = await suspend.for_signal("go")
            await back
            return payload
        return "charged twice"

    async with Docket(name=docket_name, url=own_redis_server.url) as docket:
        docket.register(fragile)
        assert await docket.signal("go", "paid") is False  # kept for the task
        execution = await docket.add(fragile)()
        async with Worker(
            docket,
            reconnection_delay=timedelta(milliseconds=100),
            minimum_check_interval=timedelta(milliseconds=20),
        ) as worker:
            await worker.run_until_finished()
        assert await execution.get_result() == "paid"
    assert done == ["charge"]
