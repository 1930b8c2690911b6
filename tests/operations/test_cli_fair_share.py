"""``docket fair-share`` (weights: set, show, clear, list) and the fair-share
backlogs in ``docket snapshot`` (human and --json), in-process against a real
redis-server."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from docket import Docket
from docket.cli import app
from tests._support.fair_tasks import fill_backlogs, render
from tests._support.servers import RedisServer
from tests.operations.test_cli_commands import flat, invoke

pytestmark = pytest.mark.usefixtures("restore_logging")
runner = CliRunner()


def test_weights_are_set_shown_listed_and_cleared(
    redis_server: RedisServer, docket_name: str
):
    """A weight set from the CLI is shown, listed (control characters of the
    value escaped) and in --json; clearing it goes back to 1."""
    url = redis_server.url
    value = "acme\x1b[31m"
    done = invoke(url, docket_name, "fair-share", "render", value, "3")
    assert "set to 3" in done.output and "\x1b" not in done.output
    shown = invoke(url, docket_name, "fair-share", "render", value)
    assert shown.output.strip().endswith(": 3.")
    listing = flat(invoke(url, docket_name, "fair-share").output)
    assert "weight 3 render acme\\x1b[31m" in listing
    document = json.loads(invoke(url, docket_name, "fair-share", "--json").output)
    assert document["weights"] == [{"task": "render", "value": value, "weight": 3.0}]
    cleared = invoke(url, docket_name, "fair-share", "render", value, "--clear")
    assert "cleared: 1" in cleared.output
    again = invoke(url, docket_name, "fair-share", "render", value, "--clear")
    assert "was not set: 1" in again.output
    empty = invoke(url, docket_name, "fair-share")
    assert "No fair-share weights set" in empty.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["render", "acme", "0"], "positive"),
        (["render", "acme", "nan"], "positive"),
        (["render"], "give a VALUE"),
        (["render", "acme", "2", "--clear"], "not both"),
        (["", "acme", "2"], "must not be empty"),
    ],
)
def test_bad_input_is_refused(
    redis_server: RedisServer, docket_name: str, args: list[str], message: str
):
    """Bad weights, a missing value, a weight with --clear and an empty task
    name are refused with one clear line and exit code 1."""
    url = redis_server.url
    result = runner.invoke(
        app, ["fair-share", *args, "--url", url, "--docket", docket_name]
    )
    assert result.exit_code == 1, result.output
    assert message in result.output


def test_snapshot_shows_the_backlogs_per_value(
    redis_server: RedisServer, docket_name: str
):
    """Tasks waiting in fair-share backlogs are listed per value with their
    weight, in the table's footer and in --json."""
    import asyncio

    async def fill() -> None:
        async with Docket(name=docket_name, url=redis_server.url) as docket:
            await fill_backlogs(docket, render, {"large": 14, "small": 2}, {"small": 2})

    asyncio.run(fill())
    args = ["snapshot", "--tasks", "tests._support.fair_tasks:tasks"]
    text = flat(invoke(redis_server.url, docket_name, *args).output)
    assert "Fair share: render 'large': 4 queued, weight 1" in text
    assert "Fair share: render 'small': 2 queued, weight 2" in text
    document = json.loads(invoke(redis_server.url, docket_name, *args, "--json").output)
    assert document["fair_share"] == [
        {"task": "render", "value": "large", "queued": 4, "weight": 1.0},
        {"task": "render", "value": "small", "queued": 2, "weight": 2.0},
    ]
