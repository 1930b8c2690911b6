"""``docket pause``, ``docket resume``, and the strikes listing (``docket strikes``,
``docket strike ls``), in-process against a real redis-server and a worker."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from docket import Docket, ExecutionState
from docket.cli import app
from tests._support import cli_tasks
from tests._support.cli import ThreadWorker, wait_until
from tests._support.servers import RedisServer, free_port
from tests.operations.test_cli_commands import flat, invoke, with_docket

pytestmark = pytest.mark.usefixtures("restore_logging")
runner = CliRunner()


def test_strike_ls_and_strikes_list_what_is_struck_and_paused(
    redis_server: RedisServer, docket_name: str
):
    """Both spellings list whole-task, per-task and every-task strikes and the
    paused types; `docket strike ls '*'` still strikes a task named ls."""
    url = redis_server.url
    empty = invoke(url, docket_name, "strike", "ls")
    assert "Nothing is struck" in empty.output
    assert "Nothing is paused" in empty.output
    invoke(url, docket_name, "strike", "send_newsletter")
    invoke(url, docket_name, "strike", "charge", "cents", ">", "int:100")
    invoke(url, docket_name, "strike", "*", "customer", "==", "c-13")
    invoke(url, docket_name, "pause", "export")
    for spelling in (["strike", "ls"], ["strikes"]):
        text = flat(invoke(url, docket_name, *spelling).output)
        assert "send_newsletter the whole task" in text
        assert "charge cents > 100" in text
        assert "* (every task) customer == 'c-13'" in text
        assert re.search(r"export (now|\S+ ago) 0\b", text), text
        assert "ls the whole task" not in text  # listing struck nothing

    document = json.loads(invoke(url, docket_name, "strikes", "--json").output)
    assert {
        "task": "charge",
        "parameter": "cents",
        "operator": ">",
        "value": "100",
    } in (document["strikes"])
    assert [p["task"] for p in document["paused"]] == ["export"]
    assert document["paused"][0]["waiting"] == 0

    struck = invoke(url, docket_name, "strike", "ls", "*")
    assert struck.output.strip() == "Striking ls"
    text = flat(invoke(url, docket_name, "strikes").output)
    assert "ls the whole task" in text


def test_pause_holds_a_workers_tasks_and_resume_releases_them(
    redis_server: RedisServer, docket_name: str
):
    """`docket pause greet` holds greet's work (listed as waiting), other tasks
    run; `docket resume greet` says how many it released, and they complete."""
    url = redis_server.url
    result = invoke(url, docket_name, "pause", "greet")
    assert result.output.strip() == (
        "Paused greet: its tasks wait until 'docket resume greet'."
    )
    with ThreadWorker(url, docket_name):

        async def add(docket: Docket) -> None:
            for name in ("a", "b", "c"):
                await docket.add(cli_tasks.greet, key=f"greet-{name}")(name)

        with_docket(url, docket_name, add)

        def waiting() -> int:
            document = json.loads(invoke(url, docket_name, "strikes", "--json").output)
            return document["paused"][0]["waiting"] if document["paused"] else -1

        wait_until(lambda: waiting() == 3)
        result = invoke(url, docket_name, "resume", "greet")
        assert result.output.strip() == "Resumed greet: 3 waiting tasks released."

        async def states(docket: Docket) -> set[ExecutionState]:
            found: set[ExecutionState] = set()
            for name in ("a", "b", "c"):
                execution = await docket.get_execution(f"greet-{name}")
                assert execution is not None
                found.add(execution.state)
            return found

        wait_until(
            lambda: with_docket(url, docket_name, states) == {ExecutionState.COMPLETED}
        )
    assert "Nothing is paused" in invoke(url, docket_name, "strikes").output


def test_hostile_task_names_are_escaped_and_bad_ones_refused(
    redis_server: RedisServer, docket_name: str
):
    """A name with an escape sequence is listed with it made visible; an empty
    name is a usage error (exit 2); an unreachable Redis is one line, exit 1."""
    url = redis_server.url
    invoke(url, docket_name, "pause", "evil\x1b[2J")
    listed = invoke(url, docket_name, "strikes").output
    assert "\x1b" not in listed and "evil\\x1b[2J" in listed

    empty = runner.invoke(app, ["pause", "", "--url", url, "--docket", docket_name])
    assert empty.exit_code == 2
    assert "must not be empty" in empty.output

    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    result = runner.invoke(app, ["resume", "x", "--url", nowhere])
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error: could not reach")
    assert len(result.output.strip().splitlines()) == 1
