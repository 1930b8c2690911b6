"""A task that blocks the event loop longer than the redelivery timeout runs
once: a watchdog thread renews the leases, and one WARNING names the task."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from docket import Docket, Worker
from tests._support import blocking_tasks
from tests._support.processes import worker_process
from tests._support.servers import RedisServer
from tests.conftest import eventually

pytestmark = pytest.mark.slow


async def test_a_loop_blocked_past_the_redelivery_timeout_runs_the_task_once(
    redis_server: RedisServer, docket_name: str, tmp_path: Path
) -> None:
    """An async task blocking its worker's loop for 5 s with a 1.5 s redelivery
    timeout, a second worker ready to take it over: it runs once, and the
    blocked worker logs one WARNING naming the task and how long it blocked."""
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    workers = [
        worker_process(
            redis_server.url,
            docket_name,
            f"worker-{n}",
            redelivery_ms=1500,
            tasks="tests._support.blocking_tasks:tasks",
            log=logs[n],
        )
        for n in range(2)
    ]
    try:
        async with Docket(name=docket_name, url=redis_server.url) as docket:
            docket.register(blocking_tasks.blocks_the_loop)
            execution = await docket.add(blocking_tasks.blocks_the_loop)(5, "once")

            async def done() -> bool:
                await execution.sync()
                return execution.state.value == "completed"

            await eventually(done, timeout=30)
            # A second run would have started while the first blocked (the
            # sweep takes over leases that ran out), before it completed.
            async with docket.redis() as client:
                runs = await client.lrange(docket.key("test-ran:once"), 0, -1)
        assert len(runs) == 1
    finally:
        for worker in workers:
            worker.kill()
            worker.wait(10)
    text = "".join(log.read_text(errors="replace") for log in logs)
    warnings = [line for line in text.splitlines() if "blocked the event loop" in line]
    assert len(warnings) == 1, text
    assert "blocks_the_loop" in warnings[0] and "leases were renewed" in warnings[0]
    seconds = float(warnings[0].split("event loop for ")[1].split(" s")[0])
    assert 4.0 <= seconds <= 6.5


async def test_a_blocked_loop_is_named_in_one_warning(
    docket: Docket, worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    """An async task that blocks the loop for 1.5 s: one WARNING names the task
    and the time it blocked; a task that does not block gets none."""

    async def hog() -> None:
        time.sleep(1.5)  # noqa: ASYNC251 (blocking the loop is the point)

    async def polite() -> None:
        await asyncio.sleep(0.3)

    await docket.add(hog, key="hog-1")()
    await docket.add(polite)()
    with caplog.at_level(logging.WARNING, logger="docket.worker"):
        await worker.run_until_finished()
    warned = [r.getMessage() for r in caplog.records if "blocked" in r.getMessage()]
    assert len(warned) == 1, warned
    assert warned[0].startswith("Task hog (key hog-1) blocked the event loop for 1.")
