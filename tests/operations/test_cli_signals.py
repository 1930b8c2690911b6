"""Tasks waiting for a signal in the terminal: ``docket snapshot`` (a line per
waiting task: "waiting on signal X since T", and in --json) and ``docket show
KEY``, against a real redis-server; names from Redis are escaped."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from docket import Docket, Signal
from docket.cli import app
from tests._support.servers import RedisServer

pytestmark = pytest.mark.usefixtures("restore_logging")
runner = CliRunner()


async def review(
    post_id: str,
    decision: Any = Signal("review-{post_id}", timeout=timedelta(days=2), default=None),
) -> None:
    pass  # pragma: no cover (never run here)


def prepare(url: str, name: str) -> None:
    async def main() -> None:
        async with Docket(name=name, url=url) as docket:
            docket.register(review)
            await docket.add(review, key="waits-1")("1\x1b[2J")
            await docket.signal("review-2", "kept")
            await docket.add(review, key="took-kept")("2")

    asyncio.run(main())


def cli(url: str, name: str, *args: str) -> str:
    result = runner.invoke(app, [*args, "--url", url, "--docket", name])
    assert result.exit_code == 0, result.output
    return result.output


def test_snapshot_says_what_each_waiting_task_waits_for(
    redis_server: RedisServer, docket_name: str
):
    """One line per task waiting for a signal, with the signal's name escaped and
    since when; --json lists them too; a task that consumed a kept signal at its
    add is queued, not waiting."""
    url = redis_server.url
    prepare(url, docket_name)
    text = cli(url, docket_name, "snapshot")
    lines = [line for line in text.splitlines() if "waiting on signal" in line]
    assert len(lines) == 1, text
    assert lines[0].startswith("waits-1: waiting on signal review-1\\x1b[2J since ")
    assert "times out in 1d 23h" in lines[0] or "times out in 2d" in lines[0]
    assert "\x1b" not in text
    document = json.loads(cli(url, docket_name, "snapshot", "--json"))
    (wait,) = document["waiting_on_signals"]
    assert wait["key"] == "waits-1" and wait["signal"] == "review-1\x1b[2J"
    assert wait["since"] and wait["times_out"]


def test_show_names_the_signal_a_task_waits_for_or_received(
    redis_server: RedisServer, docket_name: str
):
    """``docket show``: "Signal: waiting on signal X since T, times out ..." for a
    waiting task, "Signal: X received" for one released; --json has them."""
    url = redis_server.url
    prepare(url, docket_name)
    waiting = cli(url, docket_name, "show", "waits-1").splitlines()
    assert any(
        line.startswith("Signal: waiting on signal review-1\\x1b[2J since ")
        for line in waiting
    ), waiting
    released = cli(url, docket_name, "show", "took-kept").splitlines()
    assert any(
        line.startswith("Signal: review-2 received (waited since ") for line in released
    ), released
    document = json.loads(cli(url, docket_name, "show", "waits-1", "--json"))
    assert document["signals"][0]["state"] == "waiting"


def test_docket_signal_sends_kept_or_released(
    redis_server: RedisServer, docket_name: str
):
    """``docket signal NAME PAYLOAD``: a JSON payload for the task waiting for it
    ("a waiting task received it"); with nobody waiting it is kept (or, with
    --lookback 0, dropped); a payload that is not JSON is refused (exit 1)."""
    url = redis_server.url
    prepare(url, docket_name)
    released = cli(url, docket_name, "signal", "review-1\x1b[2J", '{"approved": true}')
    assert "a waiting task received it" in released and "\x1b" not in released
    kept = cli(url, docket_name, "signal", "review-9")
    assert "kept for 1d" in kept
    dropped = cli(url, docket_name, "signal", "review-10", "--lookback", "0")
    assert "dropped" in dropped
    refused = runner.invoke(
        app, ["signal", "n", "{nope", "--url", url, "--docket", docket_name]
    )
    assert refused.exit_code == 1 and "JSON" in refused.output

    async def state() -> Any:
        async with Docket(name=docket_name, url=url) as docket:
            execution = await docket.get_execution("waits-1")
            assert execution is not None
            return execution.state.value, await docket.broker.mailbox.kept("review-9")

    assert asyncio.run(state()) == ("queued", 1)
