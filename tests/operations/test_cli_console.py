"""The console commands, in-process against a real redis-server: failed
ls|show|replay|purge, dead ls, cancel, replay, and --json on snapshot and
workers ls (the field names documented in docs/dashboard.md)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from typer.testing import CliRunner

from docket import Docket, Worker
from docket._codec import Codec, now
from docket.cli import app
from tests._support.console_tasks import calls
from tests._support.servers import RedisServer

pytestmark = pytest.mark.usefixtures("restore_logging")
runner = CliRunner()
dumps = Codec().encode  # a pickle, as an unsigned docket writes it
T = TypeVar("T")
TASKS = "tests._support.console_tasks:tasks"


def with_docket(url: str, name: str, body: Callable[[Docket], Awaitable[T]]) -> T:
    async def main() -> T:
        async with Docket(name=name, url=url) as docket:
            docket.register_collection(TASKS)
            return await body(docket)

    return asyncio.run(main())


async def drain(docket: Docket) -> None:
    async with Worker(docket, minimum_check_interval=timedelta(milliseconds=5)) as w:
        await w.run_until_finished()


def invoke(url: str, name: str, *args: str, code: int = 0) -> Any:
    result = runner.invoke(app, [*args, "--url", url, "--docket", name])
    assert result.exit_code == code, result.output
    return result


def fail_some(url: str, name: str) -> None:
    async def body(docket: Docket) -> None:
        await docket.add("fail_with", key="f1")("one")
        await docket.add("fail_with", key="f2")("two")
        await docket.add("quick", key="q1")(1)
        await drain(docket)

    with_docket(url, name, body)


def test_failed_ls_json_show_and_filters(redis_server: RedisServer, docket_name: str):
    """failed ls --json lists failures newest first with stable fields and no
    unpickled arguments; show prints the traceback; filters narrow the list."""
    url = redis_server.url
    fail_some(url, docket_name)
    listed = json.loads(invoke(url, docket_name, "failed", "ls", "--json").output)
    assert {t["key"] for t in listed["tasks"]} == {"f1", "f2"}
    assert listed["cursor"] is None
    first = next(t for t in listed["tasks"] if t["key"] == "f2")
    assert set(first) == {
        "id",
        "key",
        "task",
        "arguments",
        "args_bytes",
        "kwargs_bytes",
        "when",
        "error_type",
        "message",
        "attempt",
        "worker",
        "started_at",
        "failed_at",
    }
    assert first["arguments"].startswith("args <pickled")
    assert (first["error_type"], first["message"]) == ("ValueError", "refused two")
    shown = json.loads(
        invoke(url, docket_name, "failed", "show", "f1", "--json", "--unpickle").output
    )
    assert shown["arguments"] == "('one')"
    assert "ValueError: refused one" in shown["traceback"]
    text = invoke(url, docket_name, "failed", "show", "f1").output
    assert "Traceback (most recent call last)" in text
    filtered = json.loads(
        invoke(url, docket_name, "failed", "ls", "--json", "-e", "KeyError").output
    )
    assert filtered["tasks"] == []
    table = invoke(url, docket_name, "failed", "ls", "--task", "fail_with").output
    assert "refused one" in table and "refused two" in table
    lines = table.splitlines()  # one line each at 80 columns, newest first
    assert lines[1].split() == ["Failed", "Task", "Key", "Try", "Error"]
    assert [re.findall(r"\bf[12]\b", line) for line in lines[2:]] == [["f2"], ["f1"]]
    assert all(len(line) <= 80 for line in lines)
    shown = invoke(url, docket_name, "failed", "ls", "--show-args").output.splitlines()
    assert shown[3].strip().startswith("args <pickled") and "f2" in shown[2]
    detail = invoke(url, docket_name, "failed", "show", "f1").output.splitlines()
    assert detail[:2] == ["Key: f1", "Task: fail_with"]
    assert re.fullmatch(r"Arguments: args <pickled, \d+ bytes>, kwargs .*", detail[2])
    assert detail[3] == "Error: ValueError: refused one"
    assert re.match(r"Failed: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} \(", detail[8])


def test_replay_purge_and_their_mistakes(redis_server: RedisServer, docket_name: str):
    """replay KEY runs the task again with its arguments; unknown keys and
    unfiltered purges are refused with a clear message, losing nothing."""
    url = redis_server.url
    fail_some(url, docket_name)
    out = invoke(url, docket_name, "replay", "f1").output
    assert out.strip() == "Replayed f1"
    with_docket(url, docket_name, drain)
    recorded = with_docket(url, docket_name, calls)
    assert recorded.count(["fail_with", "one"]) == 2
    missing = invoke(url, docket_name, "replay", "nope", code=1)
    assert "no failed task with key 'nope'\n" in missing.output  # nothing after it
    unknown = invoke(url, docket_name, "failed", "show", "nope", code=1)
    assert "no failed task with key 'nope'\n" in unknown.output
    refused = invoke(url, docket_name, "failed", "purge", code=2)
    assert "--all" in refused.output
    both = invoke(url, docket_name, "failed", "replay", code=2)
    assert "KEY" in both.output
    fresh = invoke(url, docket_name, "failed", "purge", "--older-than", "1d")
    assert fresh.output.strip() == "Purged 0 failed tasks"  # the docs' example
    out = invoke(url, docket_name, "failed", "purge", "--key", "f2").output
    assert out.strip() == "Purged 1 failed task"
    out = invoke(url, docket_name, "failed", "replay", "--all").output
    assert out.strip() == "Replayed 1 failed task"
    out = invoke(url, docket_name, "failed", "purge", "--all").output
    assert out.strip() == "Purged 0 failed tasks"


def test_cancel_removes_a_waiting_task(redis_server: RedisServer, docket_name: str):
    """docket cancel KEY withdraws a scheduled task."""
    url = redis_server.url

    async def schedule(docket: Docket) -> None:
        await docket.add("quick", key="later", when=now() + timedelta(hours=1))(1)

    with_docket(url, docket_name, schedule)
    assert invoke(url, docket_name, "cancel", "later").output.strip() == (
        "Cancelled later"
    )
    snapshot = json.loads(
        invoke(url, docket_name, "snapshot", "--json", "--tasks", TASKS).output
    )
    assert snapshot["total_tasks"] == 0
    bad = invoke(url, docket_name, "cancel", "queue", code=1)  # a key like any other
    assert "nothing to cancel" in bad.output


def test_cancel_of_an_unknown_or_finished_key_exits_1_changing_nothing(
    redis_server: RedisServer, docket_name: str
):
    """An unknown key is an error (exit 1) that writes nothing; so is a task
    that has already finished (its record keeps its state)."""
    url = redis_server.url
    unknown = invoke(url, docket_name, "cancel", "no-such-key", code=1)
    assert unknown.stdout == ""
    assert unknown.stderr.strip() == (
        f"Error: no task with key 'no-such-key' in docket '{docket_name}': "
        "nothing to cancel"
    )

    async def finish(docket: Docket) -> Any:
        await docket.add("quick", key="done")(1)
        await drain(docket)
        return await docket.broker.runs.record("no-such-key")

    assert with_docket(url, docket_name, finish) is None
    finished = invoke(url, docket_name, "cancel", "done", code=1)
    assert "task 'done' already completed: nothing to cancel" in finished.stderr

    async def state(docket: Docket) -> Any:
        record = await docket.broker.runs.record("done")
        return record and record.state

    assert with_docket(url, docket_name, state) == "completed"


def test_snapshot_and_workers_json(redis_server: RedisServer, docket_name: str):
    """snapshot --json and workers ls --json give the documented fields."""
    url = redis_server.url

    async def body(docket: Docket) -> None:
        await docket.add("quick", key="soon", when=now() + timedelta(hours=1))(1)
        async with Worker(docket, name="json-worker"):
            await docket.broker.workers.heartbeat("json-worker", ["quick"], 60, 4)

    with_docket(url, docket_name, body)
    snapshot = json.loads(
        invoke(url, docket_name, "snapshot", "--json", "--tasks", TASKS).output
    )
    assert set(snapshot) == {
        "docket",
        "taken",
        "total_tasks",
        "running",
        "future",
        "workers",
        "waiting_on_signals",
    }
    assert snapshot["waiting_on_signals"] == []
    assert [(f["key"], f["task"]) for f in snapshot["future"]] == [("soon", "quick")]
    workers = json.loads(invoke(url, docket_name, "workers", "ls", "--json").output)
    assert workers["workers"][0]["name"] == "json-worker"
    assert set(workers["workers"][0]) == {"name", "last_seen", "tasks"}


def test_dead_ls_reads_the_dead_letter_stream(
    redis_server: RedisServer, docket_name: str
):
    """dead ls shows an empty stream plainly, and entries with their text fields
    (payloads by size only)."""
    url = redis_server.url
    empty = json.loads(invoke(url, docket_name, "dead", "ls", "--json").output)
    assert empty == {"letters": [], "cursor": None}

    async def bury(docket: Docket) -> None:
        async with docket.redis() as client:
            await client.xadd(
                docket.keyspace.dead,
                {
                    "key": "k9",
                    "function": "quick",
                    "dead_reason": "poison",
                    "args": dumps(()),
                },
            )

    with_docket(url, docket_name, bury)
    listed = json.loads(invoke(url, docket_name, "dead", "ls", "--json").output)
    [letter] = listed["letters"]
    assert (letter["key"], letter["function"], letter["reason"]) == (
        "k9",
        "quick",
        "poison",
    )
    assert letter["payload_bytes"] == {"args": len(dumps(()))}
    assert "poison" in invoke(url, docket_name, "dead", "ls").output
