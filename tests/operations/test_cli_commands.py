"""The inspection and control commands, in-process, against a real redis-server:
strike, restore, clear, snapshot, workers, tasks."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from typer.testing import CliRunner

from docket import Docket, ExecutionState
from docket.cli import app
from tests._support import cli_tasks
from tests._support.cli import ThreadWorker, wait_until
from tests._support.servers import RedisServer

pytestmark = pytest.mark.usefixtures("restore_logging")
runner = CliRunner()
TASKS = "tests._support.cli_tasks:tasks"
T = TypeVar("T")


def flat(output: str) -> str:
    return " ".join(output.replace("│", " ").split())


def with_docket(url: str, name: str, body: Callable[[Docket], Awaitable[T]]) -> T:
    async def main() -> T:
        async with Docket(name=name, url=url) as docket:
            docket.register_collection("tests._support.cli_tasks:tasks")
            return await body(docket)

    return asyncio.run(main())


def invoke(url: str, name: str, *args: str) -> Any:
    result = runner.invoke(app, [*args, "--url", url, "--docket", name])
    assert result.exit_code == 0, result.output
    return result


def test_strike_and_restore_reach_every_docket_client(
    redis_server: RedisServer, docket_name: str
):
    """The seed page's strike examples take effect for workers and producers."""
    url = redis_server.url
    result = invoke(url, docket_name, "strike", "problematic_function")
    assert result.output.strip() == "Striking problematic_function"
    result = invoke(
        url,
        docket_name,
        "strike",
        "process_order",
        "customer_id",
        "==",
        "problematic-customer",
    )
    assert result.output.strip() == (
        "Striking process_order customer_id == 'problematic-customer'"
    )
    result = invoke(url, docket_name, "strike", "*", "amount", ">", "int:1000")
    assert result.output.strip() == "Striking (all tasks) amount > 1000"

    async def strikes(docket: Docket) -> tuple[Any, Any]:
        await docket.wait_for_strikes_loaded()
        strike_list = docket.strike_list
        return strike_list.struck_functions, (
            strike_list.task_strikes,
            strike_list.parameter_strikes,
        )

    functions, (by_task, everywhere) = with_docket(url, docket_name, strikes)
    assert "problematic_function" in functions
    assert by_task["process_order"]["customer_id"]
    assert everywhere["amount"]

    result = invoke(url, docket_name, "restore", "problematic_function")
    assert result.output.strip() == "Restoring problematic_function"
    functions, _ = with_docket(url, docket_name, strikes)
    assert "problematic_function" not in functions


def test_typed_and_between_strikes_block_matching_tasks(
    redis_server: RedisServer, docket_name: str
):
    """``int:``/``decimal.Decimal:`` values and ``between LOW,HIGH`` compare as types."""
    url = redis_server.url
    invoke(url, docket_name, "strike", "greet", "name", "==", "str:bad:name")
    result = invoke(
        url,
        docket_name,
        "strike",
        "linger",
        "seconds",
        "between",
        "decimal.Decimal:1.5,decimal.Decimal:2.5",
    )
    assert "between (Decimal('1.5'), Decimal('2.5'))" in result.output

    async def dispositions(docket: Docket) -> list[str]:
        await docket.wait_for_strikes_loaded()
        executions = [
            await docket.add(cli_tasks.greet)("bad:name"),
            await docket.add(cli_tasks.greet)("good"),
            await docket.add(cli_tasks.linger)(Decimal("2")),
            await docket.add(cli_tasks.linger)(Decimal("3")),
        ]
        return [e.disposition.value for e in executions]

    assert with_docket(url, docket_name, dispositions) == [
        "struck",
        "scheduled",
        "struck",
        "scheduled",
    ]


def test_clear_counts_and_removes_pending_work(
    redis_server: RedisServer, docket_name: str
):
    """``clear`` empties the stream and the future queue and says how many it removed."""
    url = redis_server.url

    async def add_three(docket: Docket) -> None:
        soon = datetime.now(timezone.utc) + timedelta(hours=1)
        await docket.add(cli_tasks.greet)("a")
        await docket.add(cli_tasks.greet)("b")
        await docket.add(cli_tasks.greet, when=soon)("c")

    with_docket(url, docket_name, add_three)
    result = invoke(url, docket_name, "clear")
    assert result.output.strip() == f"Cleared 3 tasks from docket '{docket_name}'"

    async def total(docket: Docket) -> int:
        return (await docket.snapshot()).total_tasks

    assert with_docket(url, docket_name, total) == 0


def test_tasks_commands_add_the_builtin_tasks_with_a_delay(
    redis_server: RedisServer, docket_name: str
):
    """``tasks trace|fail|sleep`` add the built-ins, ``--delay`` from now."""
    url = redis_server.url
    keys: dict[str, str] = {}
    for command, argument in (("trace", "hi"), ("fail", "oops"), ("sleep", "2.5")):
        result = invoke(url, docket_name, "tasks", command, argument, "--delay", "10m")
        prefix = f"Added {command} task '"
        assert result.output.startswith(prefix)
        key, _, rest = result.output[len(prefix) :].partition("'")
        assert rest.strip() == f"to the docket '{docket_name}'"
        keys[command] = key

    async def inspect(docket: Docket) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for command, key in keys.items():
            execution = await docket.get_execution(key)
            assert execution is not None
            found[command] = execution
        return found

    executions = with_docket(url, docket_name, inspect)
    now = datetime.now(timezone.utc)
    for command, execution in executions.items():
        assert execution.function_name == command
        assert execution.state is ExecutionState.SCHEDULED
        assert timedelta(minutes=9) < execution.when - now <= timedelta(minutes=10)
    assert executions["trace"].args == ("hi",)
    assert executions["sleep"].args == (2.5,)


def test_tasks_default_arguments(redis_server: RedisServer, docket_name: str):
    """Without arguments trace says ``Howdy!`` and sleep sleeps one second, now."""
    url = redis_server.url
    trace_key = invoke(url, docket_name, "tasks", "trace").output.split("'")[1]
    sleep_key = invoke(url, docket_name, "tasks", "sleep").output.split("'")[1]

    async def arguments(docket: Docket) -> list[Any]:
        found = [await docket.get_execution(k) for k in (trace_key, sleep_key)]
        return [(e.args, e.state) for e in found if e is not None]

    assert with_docket(url, docket_name, arguments) == [
        (("Howdy!",), ExecutionState.QUEUED),
        ((1.0,), ExecutionState.QUEUED),
    ]


def test_snapshot_shows_running_queued_and_scheduled_work(
    redis_server: RedisServer, docket_name: str
):
    """The table lists running work with its worker, then queued and future tasks."""
    url = redis_server.url

    async def add(docket: Docket) -> None:
        await docket.add(cli_tasks.linger, key="the-runner")(30)

    with_docket(url, docket_name, add)
    with ThreadWorker(url, docket_name, "snap-worker"):

        async def started(docket: Docket) -> int:
            async with docket.redis() as client:
                return await client.llen(docket.key("test-started"))

        wait_until(lambda: with_docket(url, docket_name, started))

        async def more(docket: Docket) -> None:
            later = datetime.now(timezone.utc) + timedelta(minutes=5)
            much_later = datetime.now(timezone.utc) + timedelta(hours=2)
            await docket.add(cli_tasks.greet, when=later, key="the-future")("x")
            await docket.add(cli_tasks.greet, when=much_later, key="far-future")("y")

        with_docket(url, docket_name, more)
        result = runner.invoke(
            app,
            [
                "snapshot",
                "--url",
                url,
                "--docket",
                docket_name,
                "--tasks",
                "tests._support.cli_tasks:tasks",
                "--stats",
            ],
        )
    assert result.exit_code == 0, result.output
    output = result.output
    assert f"Docket: '{docket_name}'" in output
    assert "1 worker, 1/3 running" in output
    lines = output.splitlines()
    assert lines[3].split() == ["When", "Task", "Key", "Worker", "Started"]
    rows = [line.split("  ") for line in lines[4:7]]
    cells = [[cell.strip() for cell in row if cell.strip()] for row in rows]
    assert cells[0][1:4] == ["linger", "the-runner", "snap-worker"]
    # "When" (the time it was due) and "Started": "now" within a tenth of a second
    assert cells[0][0] == "now" or cells[0][0].endswith(" ago")
    assert cells[0][4] == "now" or cells[0][4].endswith(" ago")
    assert cells[1][1:] == ["greet", "the-future"]
    assert cells[1][0].startswith("in 4m 5")
    assert cells[2][1:] == ["greet", "far-future"]
    assert cells[2][0].startswith("in 1h 59m") or cells[2][0].startswith("in 2h")
    assert all(len(line) <= 80 for line in lines)  # one line per task at 80 columns
    assert "Task Count Statistics by Function" in output
    stats = [
        line.split() for line in lines if line.split()[:1] in (["greet"], ["linger"])
    ]
    assert [row[:4] for row in stats] == [
        ["greet", "2", "0", "2"],
        ["linger", "1", "1", "0"],
    ]


def test_snapshot_shows_unregistered_tasks_by_name(
    redis_server: RedisServer, docket_name: str
):
    """Queued and scheduled tasks the command has not registered are listed by name
    (the API's ``Docket.snapshot()`` still refuses them, as in pydocket)."""
    url = redis_server.url

    async def add(docket: Docket) -> None:
        await docket.add(cli_tasks.greet, key="now-key")("x")
        later = datetime.now(timezone.utc) + timedelta(hours=1)
        await docket.add(cli_tasks.greet, when=later, key="later-key")("y")

    with_docket(url, docket_name, add)
    result = runner.invoke(app, ["snapshot", "--url", url, "--docket", docket_name])
    assert result.exit_code == 0, result.output
    assert "greet" in result.output
    assert "now-key" in result.output and "later-key" in result.output
    assert "Traceback" not in result.output

    async def api_snapshot() -> None:
        async with Docket(name=docket_name, url=url) as docket:
            with pytest.raises(ValueError, match="not registered"):
                await docket.snapshot()

    asyncio.run(api_snapshot())


def test_snapshot_limits_and_filters_what_it_lists(
    redis_server: RedisServer, docket_name: str
):
    """Without --limit the table shows the 50 soonest tasks and says how many it
    left out; --limit and --task narrow it; --json lists all unless limited."""
    url = redis_server.url

    async def add(docket: Docket) -> None:
        start = datetime.now(timezone.utc) + timedelta(hours=1)
        for i in range(55):
            function = cli_tasks.greet if i % 5 else cli_tasks.linger
            when = start + timedelta(seconds=i)
            await docket.add(function, when=when, key=f"task-{i:02d}")("x")

    with_docket(url, docket_name, add)

    def snapshot(*args: str) -> Any:
        return invoke(url, docket_name, "snapshot", "--tasks", TASKS, *args).output

    def keys(output: str) -> list[str]:
        return re.findall(r"task-\d\d", output)

    assert keys(snapshot()) == [f"task-{i:02d}" for i in range(50)]
    assert "Showing 50 of 55 tasks: --limit N shows more" in snapshot()
    assert keys(snapshot("--limit", "3")) == ["task-00", "task-01", "task-02"]
    linger = snapshot("--task", "linger", "-n", "2", "--stats")
    assert keys(linger) == ["task-00", "task-05"]
    assert "Showing 2 of 11 tasks" in linger
    assert re.search(r"\nlinger +11 +0 +11 ", linger)  # stats of what matched
    everything = json.loads(snapshot("--json"))
    assert len(everything["future"]) == everything["total_tasks"] == 55
    assert len(json.loads(snapshot("--json", "--limit", "4"))["future"]) == 4


def test_worker_dependencies_from_the_command_line(
    redis_server: RedisServer, docket_name: str
):
    """``docket worker --dependencies module:member`` applies them to every task: a
    task without a Retry of its own is retried by the worker-level one."""
    url = redis_server.url

    async def add(docket: Docket) -> str:
        return (await docket.add(cli_tasks.fails_first)()).key

    key = with_docket(url, docket_name, add)
    result = runner.invoke(
        app,
        [
            "worker",
            "--until-finished",
            "--url",
            url,
            "--docket",
            docket_name,
            "--tasks",
            "tests._support.cli_tasks:tasks",
            "--dependencies",
            "tests._support.cli_tasks:worker_dependencies",
            "--minimum-check-interval",
            "5ms",
            "--scheduling-resolution",
            "5ms",
        ],
    )
    assert result.exit_code == 0, result.output

    async def outcome(docket: Docket) -> Any:
        execution = await docket.get_execution(key)
        assert execution is not None
        return await execution.get_result(timeout=timedelta(seconds=5))

    assert with_docket(url, docket_name, outcome) == "attempt 2"


def test_workers_ls_and_for_task(redis_server: RedisServer, docket_name: str):
    """``workers ls`` lists live workers and their tasks; ``for-task`` filters."""
    url = redis_server.url
    with ThreadWorker(url, docket_name, "listed-worker"):

        async def listed(docket: Docket) -> int:
            return len(await docket.workers())

        wait_until(lambda: with_docket(url, docket_name, listed))
        everyone = runner.invoke(
            app,
            ["workers", "ls", "--url", url, "--docket", docket_name],
            env={"COLUMNS": "200"},
        )
        greeters = runner.invoke(
            app,
            ["workers", "for-task", "greet", "--url", url, "--docket", docket_name],
            env={"COLUMNS": "200"},
        )
        nobody = runner.invoke(
            app,
            ["workers", "for-task", "nope", "--url", url, "--docket", docket_name],
        )
    for result in (everyone, greeters):
        assert result.exit_code == 0, result.output
        assert f"Workers in Docket: {docket_name}\n1 worker\n" in result.output
        assert "listed-worker" in result.output
        assert re.search(r"listed-worker +(now|[\d.]+m?s ago) ", result.output)
        assert not re.search(r"\d\.\d{3}", result.output)  # no microseconds
        for task in ("greet", "linger", "trace", "sleep"):
            assert task in result.output
    assert "listed-worker" not in nobody.output


@pytest.mark.parametrize(
    "command", [["clear"], ["strike", "greet"], ["restore", "greet", "name", "==", "x"]]
)
def test_unreachable_redis_is_a_one_line_error_without_secrets(command: list[str]):
    """A server that does not answer gives exit 1 and a message with a masked URL,
    and nothing else: strike and restore say nothing before they have reached it."""
    url = "redis://someone:hunter2@127.0.0.1:1/0"
    result = runner.invoke(app, [*command, "--url", url])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(
        "Error: could not reach redis://someone:***@127.0.0.1:1/0"
    )
    assert "hunter2" not in result.output
    assert "Traceback" not in result.output


def test_snapshot_shows_depth_per_priority(redis_server: RedisServer, docket_name: str):
    """`docket snapshot` and its --json give the due tasks per priority when more
    than one priority waits, and say nothing of priorities otherwise."""
    url = redis_server.url

    async def plain(docket: Docket) -> None:
        await docket.add(cli_tasks.greet)("five")

    with_docket(url, docket_name, plain)
    output = invoke(url, docket_name, "snapshot", "--tasks", TASKS).output
    assert "priority" not in output
    assert (
        "due_by_priority"
        not in invoke(url, docket_name, "snapshot", "--tasks", TASKS, "--json").output
    )

    async def urgent(docket: Docket) -> None:
        await docket.add(cli_tasks.greet, priority=9)("nine")

    with_docket(url, docket_name, urgent)
    output = invoke(url, docket_name, "snapshot", "--tasks", TASKS).output
    assert "due by priority: 9: 1, 5: 1" in flat(output)
    assert "0/2 running" in flat(output)
    document = json.loads(
        invoke(url, docket_name, "snapshot", "--tasks", TASKS, "--json").output
    )
    assert document["due_by_priority"] == {"9": 1, "5": 1}
    assert document["total_tasks"] == 2
