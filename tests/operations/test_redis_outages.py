"""What a ``docket worker`` process says and does through a Redis outage, read
from its real output against a redis-server we stop and start again: one
WARNING when the outage starts (naming the URL without its password), one INFO
when it ends, nothing in between; its start-up line once, even when it starts
with Redis down; and it serves again within a second of Redis answering,
however long its loops had backed off."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from docket import Docket, ExecutionState
from tests._support import cli_tasks
from tests._support.cli import WorkerProcess
from tests._support.servers import RedisServer
from tests.conftest import eventually

pytestmark = pytest.mark.slow
PASSWORD = "outage-pw"
OUTAGE = 6.0  # seconds redis-server stays down: its loops back off to seconds


@pytest.fixture
def server() -> Iterator[RedisServer]:
    server = RedisServer(password=PASSWORD)  # durable: the restart keeps the data
    try:
        yield server
    finally:
        server.close()


def url_of(server: RedisServer) -> str:
    return f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0"


def start_worker(server: RedisServer, docket_name: str, log: Path) -> WorkerProcess:
    return WorkerProcess(
        [
            "--url", url_of(server),
            "--docket", docket_name,
            "--tasks", "tests._support.cli_tasks:tasks",
            "--logging-format", "plain",
            "--reconnection-delay", "200ms",
            "--redelivery-timeout", "2s",
            "--minimum-check-interval", "20ms",
        ],
        {},
        log,
    )  # fmt: skip


def lines_after(text: str, marker: int) -> list[str]:
    return [line for line in text[marker:].splitlines() if line.strip()]


async def greeted(docket: Docket, key: str) -> bool:
    execution = await docket.get_execution(key)
    return execution is not None and execution.state is ExecutionState.COMPLETED


async def test_an_outage_is_told_once_and_work_resumes_within_a_second(
    server: RedisServer, docket_name: str, tmp_path: Path
):
    """Redis stopped for 6 s under an idle worker (reconnection delay 200 ms, so
    every loop fails and backs off many times): the worker's log holds exactly
    two lines for it, a WARNING "Failed to ...: Redis at redis://:***@... is
    unavailable" and an INFO "Redis at ... back after N s"; the password never
    appears. A task added as Redis returns completes within a second."""
    server.start()
    process = start_worker(server, docket_name, tmp_path / "worker.log")
    try:
        async with Docket(name=docket_name, url=url_of(server)) as docket:
            await eventually(lambda: "Starting worker" in process.output(), 20)
            await docket.add(cli_tasks.greet, key="before")("before")
            await eventually(lambda: greeted(docket, "before"), 10)
            marker = len(process.output())
            server.stop()
            await eventually(lambda: "unavailable" in process.output()[marker:], 10)
            await asyncio.sleep(OUTAGE)  # the outage itself: loops back off
            server.start()
            back = time.monotonic()
            await docket.add(cli_tasks.greet, key="after")("after")
            await eventually(lambda: greeted(docket, "after"), 10, 0.005)
            resumed = time.monotonic() - back
            await eventually(lambda: "back after" in process.output()[marker:], 10)
        output = process.output()
    finally:
        process.close()
    lines = [line for line in lines_after(output, marker) if "greet" not in line]
    assert len(lines) == 2, "\n".join(lines)
    warning, info = lines
    assert "WARNING" in warning and "Failed to " in warning
    assert f"redis://:***@127.0.0.1:{server.port}/0 is unavailable" in warning
    assert "INFO" in info and "back after" in info
    assert PASSWORD not in output
    assert resumed < 1.0, f"resumed {resumed:.2f}s after Redis came back"


async def test_a_worker_started_with_redis_down_logs_its_start_once(
    server: RedisServer, docket_name: str, tmp_path: Path
):
    """A worker started while Redis is down tries again and again to start its
    session; its log holds the start-up line once, one WARNING for the outage
    and one INFO when Redis is back, and it then runs tasks."""
    process = start_worker(server, docket_name, tmp_path / "worker.log")
    try:
        await eventually(lambda: "unavailable" in process.output(), 20)
        await asyncio.sleep(3.0)  # the outage itself: starts are retried meanwhile
        server.start()
        async with Docket(name=docket_name, url=url_of(server)) as docket:
            await docket.add(cli_tasks.greet, key="first")("first")
            await eventually(lambda: greeted(docket, "first"), 10)
        await eventually(lambda: "back after" in process.output(), 10)
        output = process.output()
    finally:
        process.close()
    lines = [line for line in lines_after(output, 0) if "greet" not in line]
    assert output.count("Starting worker") == 1, output
    outage = [line for line in lines if "unavailable" in line or "back after" in line]
    assert len(outage) == 2, "\n".join(lines)
    assert all(line.startswith(("*", " ")) or "Starting" in line or line in outage
               or "unsigned" in line for line in lines), "\n".join(lines)  # fmt: skip
