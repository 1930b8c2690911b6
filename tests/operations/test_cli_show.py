"""``docket show KEY`` against a real redis-server: what the dashboard's task
page shows, in the terminal (escaped, 80 columns) or as JSON; exit 1 for an
unknown key."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from docket import CurrentExecution, Docket, Execution, Retry, Worker
from docket.cli import app
from tests._support.servers import RedisServer
from tests._support.timings import FAST

pytestmark = pytest.mark.usefixtures("restore_logging")
runner = CliRunner()


async def breaks_twice(
    label: str,
    execution: Execution = CurrentExecution(),
    retry: Retry = Retry(attempts=2),
) -> None:
    raise ValueError(f"attempt {execution.attempt} breaks\x1b[2J {label}")


async def later(value: int) -> int:
    return value


def prepare(url: str, name: str) -> None:
    async def main() -> None:
        async with Docket(name=name, url=url) as docket:
            docket.register(breaks_twice)
            docket.register(later)
            await docket.add(breaks_twice, key="shown-1")("x" * 200)
            async with Worker(docket, **FAST) as worker:
                await worker.run_until_finished()
            when = datetime.now(timezone.utc) + timedelta(hours=1)
            await docket.add(later, key="later-1", when=when)(3)

    asyncio.run(main())


def show(url: str, name: str, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["show", *args, "--url", url, "--docket", name])
    assert result.exit_code == code, result.output
    return result.output


def test_show_prints_a_task_with_each_attempt(
    redis_server: RedisServer, docket_name: str
):
    """A task that failed twice: state, both attempts with their errors, the
    traceback, the arguments' placeholder, the replay action; control
    characters escaped; no line wider than 80 columns. A scheduled task shows
    when it is due and its actions."""
    url = redis_server.url
    prepare(url, docket_name)
    text = show(url, docket_name, "shown-1")
    lines = text.splitlines()
    assert lines[:3] == ["Key: shown-1", "State: failed", "Task: breaks_twice"]
    assert "Attempts: 2, 1 retried" in lines
    assert any(line.startswith("  #1 retried") for line in lines)
    assert any(line.startswith("  #2 failed") for line in lines)
    assert "attempt 1 breaks\\x1b[2J" in text and "\x1b" not in text
    assert "Traceback:" in lines and "Actions: replay" in lines
    assert "<pickled, " in text
    assert max(len(line) for line in lines) <= 80
    later = show(url, docket_name, "later-1")
    assert "State: scheduled" in later and "(in 59m" in later
    assert "Actions: run-now, reschedule, cancel" in later


def test_show_json_and_unknown_keys(redis_server: RedisServer, docket_name: str):
    """``--json`` gives the task page's document; an unknown key exits 1 with
    one line on stderr."""
    url = redis_server.url
    prepare(url, docket_name)
    document = json.loads(show(url, docket_name, "shown-1", "--json"))
    assert document["state"] == "failed" and document["retries"] == 1
    assert [a["attempt"] for a in document["attempts"]] == [1, 2]
    assert "attempt 2 breaks\x1b[2J" in document["error"]
    missing = runner.invoke(
        app, ["show", "nope", "--url", url, "--docket", docket_name]
    )
    assert missing.exit_code == 1
    assert "no task with key 'nope'" in missing.output


def test_show_lists_a_waiting_tasks_parents_and_a_parents_followers(
    redis_server: RedisServer, docket_name: str
):
    """A task added after two parents: "waiting on 1 of 2" and one line per
    parent with the state it ended in; the parent still running lists it among
    its followers."""
    url = redis_server.url

    async def main() -> None:
        async with Docket(name=docket_name, url=url) as docket:
            docket.register(later)
            await docket.add(later, key="first")(1)
            async with Worker(docket) as worker:
                await worker.run_until_finished()
            when = datetime.now(timezone.utc) + timedelta(hours=1)
            await docket.add(later, key="second", when=when)(2)
            await docket.add(later, key="joined", after=["first", "second"])(3)

    asyncio.run(main())
    text = show(url, docket_name, "joined")
    lines = text.splitlines()
    assert "State: waiting" in lines and "After: waiting on 1 of 2" in lines
    assert "  first (completed)" in lines and "  second" in lines
    assert "Actions: cancel" in lines
    parent = show(url, docket_name, "second").splitlines()
    assert "Followers:" in parent and "  joined" in parent


def test_show_gives_a_priority_other_than_5(
    redis_server: RedisServer, docket_name: str
):
    """A task added at priority 8 shows "Priority: 8" under its task name, and
    its JSON says 8; a plain task has no such line, and its JSON says 5."""
    url = redis_server.url

    async def main() -> None:
        async with Docket(name=docket_name, url=url) as docket:
            docket.register(later)
            await docket.add(later, key="urgent", priority=8)(1)
            await docket.add(later, key="plain")(2)

    asyncio.run(main())
    lines = show(url, docket_name, "urgent").splitlines()
    assert lines[2:4] == ["Task: later", "Priority: 8"]
    assert json.loads(show(url, docket_name, "urgent", "--json"))["priority"] == 8
    plain = show(url, docket_name, "plain")
    assert "Priority:" not in plain
    assert json.loads(show(url, docket_name, "plain", "--json"))["priority"] == 5
