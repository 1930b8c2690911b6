"""``docket watch KEY``: state, worker, error, progress, and an exit on every final
state with its own code (0 completed, 3 failed, 4 cancelled, 1 unknown key)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest
from typer.testing import CliRunner

from docket import Docket, Worker
from docket.cli import app
from tests._support import cli_tasks
from tests._support.cli import ThreadWorker, wait_until
from tests._support.servers import RedisServer

pytestmark = pytest.mark.usefixtures("restore_logging")
runner = CliRunner()
T = TypeVar("T")


def with_docket(url: str, name: str, body: Callable[[Docket], Awaitable[T]]) -> T:
    async def main() -> T:
        async with Docket(name=name, url=url) as docket:
            docket.register_collection("tests._support.cli_tasks:tasks")
            return await body(docket)

    return asyncio.run(main())


def drain(url: str, name: str, function: Any, *args: Any) -> str:
    """Add ``function(*args)`` and run a worker until the docket is empty."""

    async def body(docket: Docket) -> str:
        execution = await docket.add(function)(*args)
        async with Worker(
            docket, minimum_check_interval=timedelta(milliseconds=5)
        ) as w:
            await w.run_until_finished()
        return execution.key

    return with_docket(url, name, body)


async def watched(docket: Docket) -> bool:
    """Whether someone subscribed to the docket's events (the listening flag)."""
    async with docket.redis() as client:
        return bool(await client.exists(docket.keyspace.listening))


def watch(url: str, name: str, key: str, **env: str) -> Any:
    return runner.invoke(
        app, ["watch", key, "--url", url, "--docket", name], env=env or None
    )


def test_watching_a_completed_task_prints_it_once(
    redis_server: RedisServer, docket_name: str
):
    """A finished task is shown with its state, worker and outcome, then watch exits."""
    key = drain(redis_server.url, docket_name, cli_tasks.greet, "Jane")
    result = watch(redis_server.url, docket_name, key)
    assert result.exit_code == 0, result.output
    assert f"Task: {key}" in result.output
    assert f"Docket: {docket_name}" in result.output
    assert "State: COMPLETED" in result.output
    assert "Worker: " in result.output
    assert "✓ Task completed successfully" in result.output


def test_watching_a_failed_task_shows_its_error(
    redis_server: RedisServer, docket_name: str
):
    """A failed task shows FAILED, the error text and the failure mark, and
    watch exits 3."""
    key = drain(redis_server.url, docket_name, cli_tasks.broken)
    result = watch(redis_server.url, docket_name, key)
    assert result.exit_code == 3, result.output
    assert "State: FAILED" in result.output
    assert "Error: ValueError: broken on purpose" in result.output
    assert "✗ Task failed" in result.output


def test_watch_exits_when_a_waiting_task_is_cancelled(
    redis_server: RedisServer, docket_name: str
):
    """A scheduled task cancelled while watched ends the watch (unlike the
    reference), with exit code 4."""
    url = redis_server.url

    async def schedule(docket: Docket) -> str:
        later = datetime.now(timezone.utc) + timedelta(hours=1)
        return (await docket.add(cli_tasks.greet, when=later)("x")).key

    key = with_docket(url, docket_name, schedule)

    def cancel_once_watched() -> None:
        wait_until(lambda: with_docket(url, docket_name, watched))
        with_docket(url, docket_name, lambda d: d.cancel(key))

    canceller = threading.Thread(target=cancel_once_watched)
    canceller.start()
    result = watch(url, docket_name, key)
    canceller.join()
    assert result.exit_code == 4, result.output
    assert "State: CANCELLED" in result.output
    assert "✗ Task cancelled" in result.output


def test_watch_follows_a_running_task_to_its_cancellation(
    redis_server: RedisServer, docket_name: str
):
    """Watch a task that runs on a worker; cancelling it mid-run ends the watch."""
    url = redis_server.url

    async def add(docket: Docket) -> str:
        return (await docket.add(cli_tasks.linger)(30)).key

    key = with_docket(url, docket_name, add)

    def cancel_once_started() -> None:
        async def started(docket: Docket) -> int:
            async with docket.redis() as client:
                return await client.llen(docket.key("test-started"))

        wait_until(lambda: with_docket(url, docket_name, started))
        wait_until(lambda: with_docket(url, docket_name, watched))
        with_docket(url, docket_name, lambda d: d.cancel(key))

    with ThreadWorker(url, docket_name, "watched-worker"):
        canceller = threading.Thread(target=cancel_once_started)
        canceller.start()
        result = watch(url, docket_name, key)
        canceller.join()
    assert result.exit_code == 4, result.output
    assert "State: CANCELLED" in result.output
    assert "Worker: watched-worker" in result.output


def test_watch_shows_progress_until_completion(
    redis_server: RedisServer, docket_name: str
):
    """Progress events feed a bar with the message, percentage and elapsed time."""
    url = redis_server.url

    async def add(docket: Docket) -> str:
        return (await docket.add(cli_tasks.steps)(20)).key

    key = with_docket(url, docket_name, add)
    with ThreadWorker(url, docket_name, "progress-worker"):
        result = watch(url, docket_name, key, COLUMNS="160")
    assert result.exit_code == 0, result.output
    assert "State: COMPLETED" in result.output
    assert "step 20" in result.output
    assert "100%" in result.output
    assert "20/20" in result.output
    assert "0:00:0" in result.output  # elapsed since the task started


def test_watch_reports_an_unknown_key(redis_server: RedisServer, docket_name: str):
    """An unknown key is reported in one line on stderr, exit code 1."""
    result = watch(redis_server.url, docket_name, "no-such-key")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip() == (
        f"Error: no task with key 'no-such-key' in docket '{docket_name}' "
        "(never added, or its record expired)"
    )


def test_watch_reads_its_url_from_docket_redis_url(
    redis_server: RedisServer, docket_name: str
):
    """``watch`` takes ``DOCKET_REDIS_URL`` and accepts memory:// URLs."""
    key = drain(redis_server.url, docket_name, cli_tasks.greet, "env")
    result = runner.invoke(
        app,
        ["watch", key, "-d", docket_name],
        env={"DOCKET_REDIS_URL": redis_server.url},
    )
    assert "State: COMPLETED" in result.output
    result = runner.invoke(app, ["watch", "k", "--url", "memory://watch-test"])
    assert result.exit_code == 1
    assert "no task with key 'k'" in result.output
