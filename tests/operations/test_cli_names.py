"""What ``docket.cli`` exposes to code written for pydocket, and CLI rough edges:
``watch`` and ``DOCKET_URL``, help at 80 columns."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from typer.testing import CliRunner

import docket
import docket.cli
from docket import Docket, Worker
from docket.cli import app
from tests._support import cli_tasks
from tests._support.servers import RedisServer

pytestmark = pytest.mark.usefixtures("restore_logging")
runner = CliRunner()


def test_the_worker_command_is_a_function_mirroring_worker_run() -> None:
    """``docket.cli.worker`` is the command function: every ``Worker.run`` parameter
    is one of its parameters (``docket_name`` as ``docket_``), with the same default."""
    command = docket.cli.worker
    assert inspect.isfunction(command)
    cli = inspect.signature(command).parameters
    for name, parameter in inspect.signature(Worker.run).parameters.items():
        option = "docket_" if name == "docket_name" else name
        assert option in cli, name
        assert cli[option].default == parameter.default, name
    assert {"logging_level", "logging_format"} <= set(cli)


def test_the_cli_module_exposes_its_classes_and_commands() -> None:
    """``docket.cli.Docket``/``Worker`` are the real classes (patchable there); the
    other commands are functions too; ``iterate_with_timeout`` is importable."""
    assert docket.cli.Docket is docket.Docket
    assert docket.cli.Worker is docket.Worker
    for name in ("clear", "snapshot", "strike", "restore", "version", "watch"):
        assert inspect.isfunction(getattr(docket.cli, name)), name
    assert inspect.signature(docket.cli.iterate_with_timeout).parameters.keys() == {
        "iterator",
        "timeout",
    }


async def test_iterate_with_timeout_yields_none_without_losing_the_read() -> None:
    """A slow item comes after one or more Nones; the read is never cancelled, and
    the source is closed when iteration ends."""
    closed = asyncio.Event()
    release = asyncio.Event()

    async def source() -> AsyncIterator[int]:
        try:
            yield 1
            await release.wait()
            yield 2
        finally:
            closed.set()

    seen: list[int | None] = []
    async for item in docket.cli.iterate_with_timeout(source(), 0.01):
        seen.append(item)
        if item is None and seen.count(None) == 3:
            release.set()
    assert seen[0] == 1 and seen[-1] == 2
    assert seen[1:-1] == [None] * (len(seen) - 2) and len(seen) >= 5
    assert closed.is_set()


def test_worker_help_shows_every_flag_whole_at_80_columns() -> None:
    """No flag name of ``docket worker --help`` is cut short on an 80-column terminal."""
    result = runner.invoke(app, ["worker", "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    assert "…" not in result.output
    for flag in (
        "--redelivery-timeout",
        "--minimum-check-interval",
        "--schedule-automatic-tasks",
        "--no-schedule-automatic-tasks",
        "--enable-internal-instrumentation",
        "--no-enable-internal-instrumentation",
        "--message-batch",
        "--dependencies",
    ):
        assert flag in result.output, flag
    assert all(len(line) <= 80 for line in result.output.splitlines())


def test_watch_reads_the_url_from_docket_url(
    redis_server: RedisServer, docket_name: str
) -> None:
    """``docket watch`` uses ``DOCKET_URL`` like every other command (pydocket's
    ``DOCKET_REDIS_URL`` still wins when both are set)."""
    url = redis_server.url

    async def finished() -> str:
        async with Docket(name=docket_name, url=url) as d:
            d.register_collection("tests._support.cli_tasks:tasks")
            execution = await d.add(cli_tasks.greet)("x")
            async with Worker(d, minimum_check_interval=timedelta(milliseconds=5)) as w:
                await w.run_until_finished()
            return execution.key

    key = asyncio.run(finished())
    result = runner.invoke(
        app, ["watch", key, "--docket", docket_name], env={"DOCKET_URL": url}
    )
    assert result.exit_code == 0, result.output
    assert "COMPLETED" in result.output
    both = {"DOCKET_URL": "redis://127.0.0.1:1/0", "DOCKET_REDIS_URL": url}
    result = runner.invoke(app, ["watch", key, "--docket", docket_name], env=both)
    assert result.exit_code == 0, result.output
    assert "COMPLETED" in result.output


async def test_iterate_with_timeout_reports_a_read_that_failed_before_the_close():
    """A read still pending at the close that had failed meanwhile raises its
    error from aclose(), after the source is closed (nothing is swallowed)."""

    class Failing:
        def __init__(self) -> None:
            self.fail = asyncio.Event()
            self.finished = asyncio.Event()
            self.closed = False

        def __aiter__(self) -> Failing:
            return self

        async def __anext__(self) -> int:
            await self.fail.wait()
            try:
                raise RuntimeError("read failed")
            finally:
                self.finished.set()

        async def aclose(self) -> None:
            self.closed = True

    source = Failing()
    wrapped = docket.cli.iterate_with_timeout(source, 0.01)
    assert await wrapped.__anext__() is None
    source.fail.set()
    await source.finished.wait()
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="read failed"):
        await wrapped.aclose()
    assert source.closed
