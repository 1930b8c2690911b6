"""What a ``docket worker`` process logs, read from its real output: the start-up
line names the docket and the Redis URL (never its password), and a task that is
retried logs one line per failed attempt, its traceback once, and says when it
gave up, all under one logger name."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from docket import Docket
from tests._support import cli_tasks
from tests._support.cli import WorkerProcess
from tests._support.servers import RedisServer

pytestmark = pytest.mark.slow
PASSWORD = "s3cret-pw"


def test_a_retried_task_logs_each_attempt_once_and_gives_up_clearly(
    docket_name: str, tmp_path: Path
):
    """Retry(attempts=3) failing every time: two WARNING lines '↫ ... attempt N
    of 3 failed (...)' without a traceback, the start of each retry marked '↬',
    and one ERROR line 'failed (gave up after 3 attempts)' with the traceback;
    every line of that task comes from the 'docket.worker' logger. The start-up
    line names the docket and the URL with its password masked."""
    server = RedisServer(password=PASSWORD).start()
    try:
        url = f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0"

        async def add() -> None:
            async with Docket(name=docket_name, url=url) as docket:
                await docket.add(cli_tasks.gives_up, key="hopeless")()

        asyncio.run(add())
        process = WorkerProcess(
            [
                "--url",
                url,
                "--docket",
                docket_name,
                "--tasks",
                "tests._support.cli_tasks:tasks",
                "--logging-format",
                "plain",
                "--minimum-check-interval",
                "10ms",
                "--until-finished",
            ],
            {},
            tmp_path / "worker.log",
        )
        try:
            assert process.wait(30) == 0, process.output()
        finally:
            process.close()
        log = process.output()
    finally:
        server.close()

    assert PASSWORD not in log
    first = log.splitlines()[0]
    assert first.endswith(
        f"Starting worker '{first.split(chr(39))[1]}' on docket '{docket_name}' at "
        f"redis://:***@127.0.0.1:{server.port}/0 with the following tasks:"
    )
    records = [line for line in log.splitlines() if line.startswith("[")]
    about = [line for line in records if "{hopeless}" in line]
    assert all(" - docket.worker - " in line for line in about), about
    levels_and_marks = [
        (line.split("] ", 1)[1].split(" - ")[0], line.split(" - ", 2)[2][0])
        for line in about
    ]
    assert levels_and_marks == [
        ("INFO", "↪"),
        ("WARNING", "↫"),
        ("INFO", "↬"),
        ("WARNING", "↫"),
        ("INFO", "↬"),
        ("ERROR", "↩"),
    ]
    retried = [line for line in about if "↫" in line]
    assert retried[0].endswith(
        "gives_up(){hopeless} attempt 1 of 3 failed "
        "(RuntimeError: still broken); retrying now"
    )
    assert "attempt 2 of 3 failed" in retried[1]
    assert about[-1].endswith("gives_up(){hopeless} failed (gave up after 3 attempts)")
    assert log.count("Traceback (most recent call last)") == 1
    assert (
        log.count("RuntimeError: still broken") == 3
    )  # two retry lines, one traceback
    assert "docket.dependencies" not in log
