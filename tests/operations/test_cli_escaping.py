"""Hostile text from Redis never reaches a terminal raw: keys, worker names,
exception messages and progress text holding ESC sequences, Rich markup and
newlines are shown escaped by every human-readable command and by the worker's
rich and plain logs, run as real processes (as a user runs them) against a real
redis-server at 80 columns; JSON stays exact."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TypeVar

import pytest
from rich.console import Console
from typer.testing import CliRunner

from docket import Docket
from docket._text import for_terminal
from docket.cli import app
from docket.cli.watch import WatchView
from tests._support import ROOT, hostile_tasks
from tests._support.cli import WorkerProcess, wait_until
from tests._support.hostile_tasks import FORGED, HOSTILE
from tests._support.servers import RedisServer
from tests._support.timings import FAST_CLI

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("restore_logging")]
runner = CliRunner()
T = TypeVar("T")
TASKS = "tests._support.hostile_tasks:tasks"
WORKER_NAME = "w\x1b[31m[/]\nname"
SHOWN = for_terminal(HOSTILE)  # what every human output must print instead


def with_docket(url: str, name: str, body: Callable[[Docket], Awaitable[T]]) -> T:
    async def main() -> T:
        async with Docket(name=name, url=url) as docket:
            docket.register_collection(TASKS)
            return await body(docket)

    return asyncio.run(main())


def cli(url: str, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m docket ARGS`` as a user runs it, on an 80-column terminal."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80"}
    return subprocess.run(
        [sys.executable, "-m", "docket", *args, "--url", url, "--docket", name],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_safe(stdout: str, stderr: str) -> None:
    """No raw control character, no forged line, no crash (a Rich MarkupError)."""
    output = stdout + stderr
    assert "\x1b" not in output and "\r" not in output and "\u202e" not in output
    assert not any(line.startswith(FORGED) for line in output.splitlines())
    assert "MarkupError" not in output and "Traceback" not in stderr


def worker(url: str, name: str, log: Path, *args: str) -> WorkerProcess:
    return WorkerProcess(
        ["--url", url, "--docket", name, "--tasks", TASKS, *FAST_CLI, *args], {}, log
    )


@pytest.fixture
def hostile_docket(
    redis_server: RedisServer, docket_name: str, tmp_path: Path
) -> Iterator[tuple[str, str, WorkerProcess]]:
    """A docket holding hostile text everywhere, with a worker (hostile name,
    plain logs) still alive: a completed task, a failure, a dead letter, a
    scheduled task."""
    url = redis_server.url
    process = worker(
        url,
        docket_name,
        tmp_path / "plain.log",
        "--name",
        WORKER_NAME,
        "--logging-format",
        "plain",
    )

    async def fill(docket: Docket) -> None:
        await docket.add(hostile_tasks.echo, key=HOSTILE)(HOSTILE)
        await docket.add(hostile_tasks.refuse, key=HOSTILE + "-failed")(HOSTILE)
        later = datetime.now(timezone.utc) + timedelta(hours=1)
        await docket.add(hostile_tasks.echo, key=HOSTILE + "-later", when=later)("x")
        async with docket.redis() as client:  # no time zone: dead-lettered
            await client.xadd(
                docket.stream_key,
                {"key": HOSTILE, "when": "2026-01-01T00:00:00", "function": "echo"},
            )

    async def settled(docket: Docket) -> bool:
        failed = await docket.failed_task(HOSTILE + "-failed")
        dead = await docket.dead_letters.list(10)
        execution = await docket.get_execution(HOSTILE)
        done = execution is not None and execution.state.value == "completed"
        return failed is not None and len(dead) == 1 and done

    try:
        with_docket(url, docket_name, fill)
        wait_until(lambda: with_docket(url, docket_name, settled), timeout=20)
        yield url, docket_name, process
    finally:
        process.close()


def test_every_view_shows_hostile_text_escaped(
    hostile_docket: tuple[str, str, WorkerProcess],
):
    """snapshot, failed ls/show, dead ls/show, workers ls and watch exit as
    they should, print the hostile key escaped (\\x1b, \\n) and whole, and
    write no raw ESC, no forged line and no MarkupError; their --json forms
    give the hostile text back exactly (JSON escapes it itself)."""
    url, name, _ = hostile_docket
    dead_id = with_docket(url, name, lambda d: d.dead_letters.list(1))[0].id
    views = [
        (["snapshot", "--tasks", TASKS], 0, SHOWN + "-later"),
        (["snapshot", "--tasks", TASKS, "--show-args"], 0, SHOWN + "-later"),
        (["failed", "ls"], 0, SHOWN + "-failed"),
        (["failed", "show", HOSTILE + "-failed"], 0, f"Error: ValueError: {SHOWN}"),
        (["dead", "ls"], 0, SHOWN),
        (["dead", "show", dead_id], 0, f"Key: {SHOWN}"),
        (["workers", "ls"], 0, for_terminal(WORKER_NAME)),
        (["watch", HOSTILE], 0, f"Task: {SHOWN}"),
        (["watch", HOSTILE + "-failed"], 3, f"Error: ValueError: {SHOWN}"),
    ]
    # Three views as processes of their own, exactly as a user runs them (a
    # process costs seconds on a busy machine); the rest in this process.
    separate = {0, 4, 6}
    with ThreadPoolExecutor(len(separate)) as pool:
        outside = dict(
            zip(
                separate,
                pool.map(lambda i: cli(url, name, *views[i][0]), sorted(separate)),
                strict=True,
            )
        )
    for index, (args, code, expected) in enumerate(views):
        if index in separate:
            result = outside[index]
            stdout, stderr, status = result.stdout, result.stderr, result.returncode
        else:
            inside = runner.invoke(app, [*args, "--url", url, "--docket", name])
            stdout, stderr, status = inside.stdout, inside.stderr, inside.exit_code
        assert status == code, (args, stdout, stderr)
        assert_safe(stdout, stderr)
        assert expected in stdout + stderr, (args, stdout, stderr)

    documents = [
        ["failed", "ls", "--json"],
        ["dead", "ls", "--json"],
        ["snapshot", "--json", "--tasks", TASKS],
        ["workers", "ls", "--json"],
    ]
    printed = [
        runner.invoke(app, [*a, "--url", url, "--docket", name]) for a in documents
    ]
    failed, dead, snapshot, workers = (json.loads(r.stdout) for r in printed)
    assert [t["key"] for t in failed["tasks"]] == [HOSTILE + "-failed"]
    assert failed["tasks"][0]["message"] == HOSTILE
    assert dead["letters"][0]["key"] == HOSTILE
    assert [f["key"] for f in snapshot["future"]] == [HOSTILE + "-later"]
    assert [w["name"] for w in workers["workers"]] == [WORKER_NAME]


def test_the_worker_logs_escape_what_tasks_carry(
    redis_server: RedisServer, docket_name: str, tmp_path: Path
):
    """The worker's plain and rich logs show keys, arguments and exception
    messages escaped (no raw ESC, no forged line: a stored newline can only
    continue a record, indented); its JSON log keeps them exact."""
    url = redis_server.url
    logs: dict[str, str] = {}
    for log_format in ("plain", "rich", "json"):
        name = f"{docket_name}-{log_format}"

        async def fill(docket: Docket) -> None:
            await docket.add(hostile_tasks.echo, key=HOSTILE)(HOSTILE)
            await docket.add(hostile_tasks.refuse, key=HOSTILE + "-failed")(HOSTILE)

        with_docket(url, name, fill)
        log = tmp_path / f"{log_format}.log"
        process = worker(
            url,
            name,
            log,
            "--until-finished",
            "--logging-format",
            log_format,
            "--name",
            WORKER_NAME,
        )
        try:
            assert process.wait(30) == 0, process.output()
        finally:
            process.close()
        logs[log_format] = log.read_text()

    for log_format in ("plain", "rich"):
        assert_safe_log(logs[log_format])
    assert f"{{{SHOWN}}}" in logs["plain"]  # the key in a run's start line
    assert f"ValueError: {for_terminal(HOSTILE.split(chr(10))[0])}" in logs["plain"]
    assert "\\x1b]0;owned" in logs["rich"]
    records = [json.loads(line) for line in logs["json"].splitlines()]
    keys = {record.get("docket.key") for record in records}
    assert {HOSTILE, HOSTILE + "-failed"} <= keys
    failure = next(r for r in records if r["levelname"] == "ERROR")
    assert f"ValueError: {HOSTILE}" in failure["exc_info"]


def assert_safe_log(output: str) -> None:
    assert "\x1b" not in output and "\r" not in output and "\u202e" not in output
    assert not any(line.startswith(FORGED) for line in output.splitlines())
    assert "--- Logging error ---" not in output


async def test_watch_shows_hostile_progress_text_escaped():
    """What watch redraws while a task runs (state, worker, error and the
    progress line) shows a hostile progress message, worker name and error
    escaped: no ESC, carriage return or line of its own reaches the terminal."""
    async with Docket(name="watched", url="memory://watch-escaping") as docket:
        docket.register_collection(TASKS)
        later = datetime.now(timezone.utc) + timedelta(hours=1)
        execution = await docket.add(hostile_tasks.report, key=HOSTILE, when=later)("x")
        view = WatchView("watched", execution)
        view.apply({"type": "state", "state": "running", "worker": WORKER_NAME})
        view.apply({"type": "progress", "current": 1, "total": 2, "message": HOSTILE})
        view.apply({"type": "state", "state": "failed", "error": HOSTILE})
        out = io.StringIO()
        Console(file=out, width=400, color_system=None).print(view.render())
    shown = out.getvalue()
    assert view.show_progress
    assert_safe(shown, "")
    flat = shown.replace("\n", "")
    assert for_terminal(HOSTILE) in flat and for_terminal(WORKER_NAME) in flat
