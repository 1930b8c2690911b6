"""Log output of the CLI: json, plain and rich formats, the task context on every
line a task writes, and no passwords anywhere."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from docket import Docket, Worker
from docket.cli._logging import (
    RedactingFormatter,
    configure_logging,
    normalise_level,
    redact_secrets,
)
from tests._support import cli_tasks
from tests._support.cli import WorkerProcess
from tests._support.servers import RedisServer
from tests.conftest import eventually

pytestmark = pytest.mark.usefixtures("restore_logging")


@pytest.fixture
def captured(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    def read() -> str:
        for handler in logging.getLogger().handlers:
            handler.flush()
        return capsys.readouterr().out

    yield read


def test_json_lines_have_the_documented_keys(captured: Any):
    """One JSON object per line: name, asctime, levelname, message, exc_info, extras."""
    configure_logging("info", "json")
    logger = logging.getLogger("docket.worker")
    logger.info("hello ↪", extra={"docket.key": "k1", "duration": 0.5})
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("failed")
    logger.debug("not shown at INFO")
    first, second = [json.loads(line) for line in captured().splitlines()]
    assert first["name"] == "docket.worker"
    assert first["levelname"] == "INFO"
    assert first["message"] == "hello ↪"
    assert first["exc_info"] is None
    assert first["docket.key"] == "k1" and first["duration"] == 0.5
    assert len(first["asctime"]) == len("2026-01-01 00:00:00,000")
    assert "RuntimeError: boom" in second["exc_info"]


def test_plain_lines_follow_the_documented_layout(captured: Any):
    """``[YYYY-MM-DD HH:MM:SS] LEVEL - logger - message`` on stdout."""
    configure_logging("WARNING", "plain")
    logging.getLogger("docket.docket").warning("careful")
    logging.getLogger("docket.docket").info("quiet")
    (line,) = captured().splitlines()
    assert line.endswith("] WARNING - docket.docket - careful")
    assert line[0] == "[" and line[20] == "]"


def test_rich_format_shows_the_message(captured: Any):
    """The rich handler prints the message with a time column."""
    configure_logging("INFO", "rich")
    logging.getLogger("docket.worker").info("richly")
    assert "richly" in captured()


def test_levels_are_case_insensitive():
    """``info`` and ``Warning`` name levels; nonsense does not."""
    assert normalise_level("info") == "INFO"
    assert normalise_level("Warning") == "WARNING"
    with pytest.raises(ValueError):
        normalise_level("verbose")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("redis://:pw@host:6379/0", "redis://:***@host:6379/0"),
        (
            "redis://user:pw@host/0 and rediss://u:p%40ss@h",
            "redis://user:***@host/0 and rediss://u:***@h",
        ),
        (
            "redis+sentinel://h/m?sentinel_password=pw&x=1",
            "redis+sentinel://h/m?sentinel_password=***&x=1",
        ),
        ("redis://host:6379/0", "redis://host:6379/0"),
        ("user@example.com", "user@example.com"),
    ],
)
def test_url_passwords_are_masked(text: str, expected: str):
    """Passwords in URL userinfo and ``*password=`` options become ``***``."""
    assert redact_secrets(text) == expected


def test_the_formatter_masks_messages_and_tracebacks():
    """Messages, arguments and exception text all pass through the mask."""
    formatter = RedactingFormatter(logging.Formatter("%(message)s"))
    try:
        raise ConnectionError("cannot reach redis://a:hunter2@h:1")
    except ConnectionError as error:
        record = logging.LogRecord(
            "x",
            logging.ERROR,
            __file__,
            1,
            "url %s",
            ("redis://:hunter2@h",),
            (type(error), error, error.__traceback__),
        )
    text = formatter.format(record)
    assert "hunter2" not in text
    assert "url redis://:***@h" in text
    assert "ConnectionError: cannot reach redis://a:***@h:1" in text


async def test_every_line_a_task_writes_names_the_task(captured: Any):
    """Worker lines and a task's own plain-logger lines carry docket, worker, task, key."""
    configure_logging("INFO", "json")
    async with Docket(name="ctx-docket", url="memory://logging-context") as docket:
        docket.register_collection("tests._support.cli_tasks:tasks")
        execution = await docket.add(cli_tasks.chatty, key="chatty-1")("hi")
        async with Worker(
            docket, name="ctx-worker", minimum_check_interval=timedelta(milliseconds=5)
        ) as worker:
            await worker.run_until_finished()
        await execution.sync()
    lines = [json.loads(line) for line in captured().splitlines()]
    task_lines = [line for line in lines if line.get("docket.key") == "chatty-1"]
    messages = [line["message"] for line in task_lines]
    assert any(m.startswith("↪") for m in messages)
    assert any(m.startswith("↩") for m in messages)
    assert "chatty says hi" in messages
    for line in task_lines:
        assert line["docket.name"] == "ctx-docket"
        assert line["docket.worker"] == "ctx-worker"
        assert line["docket.task"] == "chatty"


async def test_worker_json_logs_never_show_the_redis_password(
    redis_server: RedisServer, docket_name: str, tmp_path: Path
):
    """A worker at DEBUG with a password in its URL never prints the password."""
    url = f"redis://default:s3cr3t-pw@127.0.0.1:{redis_server.port}/0"
    worker = WorkerProcess(
        [
            "--url",
            url,
            "--docket",
            docket_name,
            "--tasks",
            "tests._support.cli_tasks:tasks",
            "--logging-format",
            "json",
            "--logging-level",
            "debug",
            "--minimum-check-interval",
            "10ms",
        ],
        {},
        tmp_path / "worker.log",
    )
    try:
        async with Docket(name=docket_name, url=redis_server.url) as docket:
            execution = await docket.add(cli_tasks.broken)()

            async def failed() -> bool:
                await execution.sync()
                return execution.state.value == "failed"

            await eventually(failed, timeout=20)
        worker.signal()
        assert await asyncio.to_thread(worker.wait) == 0
    finally:
        worker.close()
    output = worker.output()
    assert "s3cr3t-pw" not in output
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert any(r["levelname"] == "DEBUG" for r in records)
    assert any("default:***@" in r["message"] for r in records)
    failure = next(r for r in records if r["levelname"] == "ERROR")
    assert "ValueError: broken on purpose" in failure["exc_info"]
    assert failure["docket.task"] == "broken"
