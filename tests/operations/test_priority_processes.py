"""Priorities with ``docket worker`` processes on a real redis-server: a task
added at priority 9 behind a deep queue of priority-5 work starts within 200 ms
of its add, for short tasks and for ~50 ms tasks (where a worker would otherwise
hold ten of them read ahead)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from docket import Docket
from tests._support import priority_tasks
from tests._support.cli import WorkerProcess
from tests._support.servers import RedisServer
from tests.conftest import eventually

pytestmark = pytest.mark.slow


@pytest.fixture
def worker_process(tmp_path: Path, redis_server: RedisServer) -> Iterator[object]:
    started: list[WorkerProcess] = []

    def start(name: str) -> WorkerProcess:
        process = WorkerProcess(
            [
                "--url",
                redis_server.url,
                "--docket",
                name,
                "--tasks",
                "tests._support.priority_tasks:tasks",
                "--logging-format",
                "plain",
                "--concurrency",
                "10",
            ],
            {},
            tmp_path / f"worker-{len(started)}.log",
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.close()


async def _urgent_delay(docket: Docket) -> float | None:
    async with docket.redis() as client:
        value = await client.get(docket.key("test-urgent-delay"))
    return None if value is None else float(value)


async def _busy(docket: Docket) -> bool:
    """Whether the worker process has started on the queue."""
    snapshot = await docket.snapshot()
    return len(snapshot.running) > 0


@pytest.mark.parametrize("seconds", [0.01, 0.05])
async def test_priority_9_starts_within_200ms_behind_2000(
    redis_server: RedisServer,
    docket_name: str,
    worker_process: object,
    seconds: float,
) -> None:
    """2,000 priority-5 tasks (sleeping ``seconds`` each) are queued and a worker
    process (concurrency 10) is working through them; a priority-9 task added then
    starts within 200 ms of its add, while most of the queue still waits."""
    async with Docket(name=docket_name, url=redis_server.url) as docket:
        for task in priority_tasks.tasks:
            docket.register(task)
        await docket.add_many(
            [docket.call(priority_tasks.busy)(seconds) for _ in range(2000)]
        )
        worker_process(docket_name)  # type: ignore[operator]
        await eventually(lambda: _busy(docket), timeout=20)
        await docket.add(priority_tasks.urgent, priority=9)(time.time())
        delay = await eventually(lambda: _urgent_delay(docket), timeout=20)
        assert delay < 0.2, f"the priority-9 task started {delay * 1000:.0f} ms late"
        depths = await docket.broker.queue.depths()
        assert depths[0] > 1000  # most of the priority-5 work still waits
