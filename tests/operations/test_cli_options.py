"""The CLI's option parsing: durations, log levels, URLs, typed strike values,
and the promise that every ``Worker.run`` parameter has a CLI option."""

from __future__ import annotations

import inspect
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from typer.testing import CliRunner

from docket import Worker, __version__
from docket.cli import app, duration, interpret_python_value
from docket.cli._options import MEMORY_URL_MESSAGE

pytestmark = pytest.mark.usefixtures("restore_logging")
runner = CliRunner()


def flat(output: str) -> str:
    """The output without Rich's box borders and line wrapping."""
    return " ".join(output.replace("│", " ").split())


@pytest.mark.parametrize(
    "text, expected",
    [
        ("90", timedelta(seconds=90)),
        ("1.5", timedelta(seconds=1.5)),
        ("5s", timedelta(seconds=5)),
        ("10m", timedelta(minutes=10)),
        ("2h", timedelta(hours=2)),
        ("100ms", timedelta(milliseconds=100)),
        ("250ms", timedelta(milliseconds=250)),
        ("1.5m", timedelta(seconds=90)),
        ("01:30", timedelta(minutes=1, seconds=30)),
        ("1:02:03", timedelta(hours=1, minutes=2, seconds=3)),
        (" 5S ", timedelta(seconds=5)),
        ("0", timedelta(0)),
        ("1d", timedelta(days=1)),
        ("1.5D", timedelta(hours=36)),
    ],
)
def test_durations_accept_units_fractions_and_clock_forms(
    text: str, expected: timedelta
):
    """Durations take seconds, ms/s/m/h/d units, fractions, mm:ss and hh:mm:ss."""
    assert duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "abc", "5w", "-5s", "1:2:3:4", "1:xx", "5 s", "ms", "1e3", "1d2h"]
)
def test_durations_reject_anything_else(text: str):
    """Other spellings are a ValueError naming the accepted forms."""
    with pytest.raises(ValueError, match="duration"):
        duration(text)


@pytest.mark.parametrize(
    "option", ["--redelivery-timeout", "--minimum-check-interval", "--shutdown-timeout"]
)
def test_a_bad_duration_is_a_usage_error(option: str):
    """A bad or zero duration exits 2 with a message naming the option."""
    for value in ("soon", "0"):
        result = runner.invoke(app, ["worker", option, value])
        assert result.exit_code == 2, result.output
        assert option in result.output


def test_every_duration_option_and_variable_takes_days(
    monkeypatch: pytest.MonkeyPatch,
):
    """The units the help and the docs show work everywhere: ``--older-than 1d``
    and ``--since 2d`` on the console commands (parsed before any connection,
    so an unreachable URL fails with exit 1, not a usage error), and ``1d`` in
    the worker's options and DOCKET_WORKER_* variables."""
    unreachable = ["--url", "redis://127.0.0.1:1/0"]
    for args in (
        ["failed", "purge", "--older-than", "1d"],
        ["failed", "ls", "--since", "2d"],
        ["failed", "replay", "--all", "--since", "12h"],
        ["tasks", "trace", "--delay", "1d"],
    ):
        result = runner.invoke(app, [*args, *unreachable])
        assert result.exit_code == 1, (args, result.output)
        assert "could not reach" in result.output
    seen: dict[str, Any] = {}

    async def fake_run(**kwargs: Any) -> None:
        seen.update(kwargs)

    monkeypatch.setattr(Worker, "run", fake_run)
    monkeypatch.setenv("DOCKET_WORKER_REDELIVERY_TIMEOUT", "1d")
    result = runner.invoke(app, ["worker", "--shutdown-timeout", "2d"])
    assert result.exit_code == 0, result.output
    assert seen["redelivery_timeout"] == timedelta(days=1)
    assert seen["shutdown_timeout"] == timedelta(days=2)


def test_delay_takes_a_duration():
    """``tasks trace --delay`` rejects what is not a duration, with exit code 2."""
    result = runner.invoke(app, ["tasks", "trace", "--delay", "1.5x"])
    assert result.exit_code == 2
    assert "not a duration" in result.output


def test_log_level_and_format_are_checked_in_any_case(monkeypatch: pytest.MonkeyPatch):
    """``info``/``INFO``/``Info`` all work; an unknown level or format exits 2."""
    seen: list[dict[str, Any]] = []

    async def fake_run(**kwargs: Any) -> None:
        seen.append(kwargs)

    monkeypatch.setattr(Worker, "run", fake_run)
    for level in ("info", "WARNING", "Debug"):
        result = runner.invoke(app, ["worker", "--logging-level", level])
        assert result.exit_code == 0, result.output
    for args in (["--logging-level", "loud"], ["--logging-format", "xml"]):
        result = runner.invoke(app, ["worker", *args])
        assert result.exit_code == 2
    assert len(seen) == 3


def _option_defaults() -> dict[str, Any]:
    """The ``docket worker`` command function's parameters and their defaults."""
    from docket.cli.worker import worker

    parameters = inspect.signature(worker).parameters
    return {name: p.default for name, p in parameters.items()}


def test_every_worker_run_parameter_has_a_cli_option_with_the_same_default():
    """The spec's rule: each ``Worker.run`` parameter is a CLI option, same default."""
    cli = _option_defaults()
    for name, parameter in inspect.signature(Worker.run).parameters.items():
        option = "docket_" if name == "docket_name" else name  # as pydocket names it
        assert option in cli, f"Worker.run({name}=...) has no CLI option"
        assert cli[option] == parameter.default, name


def test_the_worker_command_passes_every_option_through(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    """Flags reach ``Worker.run`` parsed: durations, ports, repeated --tasks, flags,
    and the keys of ``--signing-keys-file``."""
    seen: dict[str, Any] = {}
    keys_file = tmp_path / "keys"
    keys_file.write_text("first-key-0123456789abcdef\nsecond-key-0123456789abcdef\n")

    async def fake_run(**kwargs: Any) -> None:
        seen.update(kwargs)

    monkeypatch.setattr(Worker, "run", fake_run)
    result = runner.invoke(
        app,
        [
            "worker",
            "--tasks",
            "tests._support.cli_tasks:tasks",
            "--tasks",
            "docket.tasks:standard_tasks",
            "--docket",
            "orders",
            "--url",
            "memory://one",
            "--name",
            "w1",
            "--concurrency",
            "3",
            "--redelivery-timeout",
            "1m",
            "--reconnection-delay",
            "0",
            "--minimum-check-interval",
            "5ms",
            "--scheduling-resolution",
            "00:01",
            "--no-schedule-automatic-tasks",
            "--enable-internal-instrumentation",
            "--until-finished",
            "--healthcheck-port",
            "8081",
            "--metrics-port",
            "9091",
            "--http-host",
            "127.0.0.1",
            "--shutdown-timeout",
            "30s",
            "--fallback-task",
            "tests._support.cli_tasks:fallback",
            "--message-batch",
            "25",
            "--dependencies",
            "tests._support.cli_tasks:worker_dependencies",
            "--signing-keys-file",
            str(keys_file),
            "--serializer",
            "JSON",
            "--isolated-processes",
            "3",
            "--max-tasks-per-child",
            "200",
            "--pool",
            "heavy=2",
            "--pool",
            "light=1,tiny=1",
            "--priority-aging",
            "90s",
        ],
    )
    assert result.exit_code == 0, result.output
    assert seen == {
        "priority_aging": timedelta(seconds=90),
        "isolated_processes": 3,
        "max_tasks_per_child": 200,
        "pools": {"heavy": 2, "light": 1, "tiny": 1},
        "docket_name": "orders",
        "url": "memory://one",
        "name": "w1",
        "concurrency": 3,
        "redelivery_timeout": timedelta(minutes=1),
        "reconnection_delay": timedelta(0),
        "minimum_check_interval": timedelta(milliseconds=5),
        "scheduling_resolution": timedelta(seconds=1),
        "schedule_automatic_tasks": False,
        "enable_internal_instrumentation": True,
        "until_finished": True,
        "healthcheck_port": 8081,
        "metrics_port": 9091,
        "tasks": ["tests._support.cli_tasks:tasks", "docket.tasks:standard_tasks"],
        "fallback_task": "tests._support.cli_tasks:fallback",
        "shutdown_timeout": timedelta(seconds=30),
        "http_host": "127.0.0.1",
        "message_batch": 25,
        "dependencies": "tests._support.cli_tasks:worker_dependencies",
        "max_deliveries": 5,
        "dead_letter_limit": 10_000,
        "signing_keys": ["first-key-0123456789abcdef", "second-key-0123456789abcdef"],
        "serializer": "json",
    }


@pytest.mark.parametrize(
    "args",
    [
        ["--tasks", "no_such_module:tasks"],
        ["--tasks", "tests._support.cli_tasks:missing"],
        ["--tasks", "tests._support.cli_tasks"],
        ["--tasks", "tests._support.cli_tasks:greet"],
        ["--fallback-task", "tests._support.cli_tasks:missing"],
        ["--concurrency", "0"],
        ["--message-batch", "0"],
        ["--dependencies", "tests._support.cli_tasks:greet"],
        ["--dependencies", "tests._support.cli_tasks:missing"],
        ["--metrics-port", "70000"],
        ["--url", "valkey://localhost:6379"],
    ],
)
def test_bad_worker_input_is_a_usage_error(args: list[str]):
    """Unimportable tasks, bad numbers and unknown URL schemes exit 2, not a traceback."""
    result = runner.invoke(app, ["worker", *args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


COMMANDS = [
    ["strike", "some_task"],
    ["restore", "some_task"],
    ["clear"],
    ["snapshot"],
    ["workers", "ls"],
    ["workers", "for-task", "trace"],
    ["tasks", "trace"],
    ["tasks", "fail"],
    ["tasks", "sleep"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_memory_urls_are_refused_except_by_worker_and_watch(command: list[str]):
    """Every command but worker and watch refuses memory:// with the three-line message."""
    result = runner.invoke(app, [*command, "--url", "memory://test"])
    assert result.exit_code == 2
    for line in MEMORY_URL_MESSAGE.splitlines():
        assert line in flat(result.output)


def test_memory_url_from_the_environment_is_refused_too():
    """``DOCKET_URL=memory://...`` is refused the same way."""
    result = runner.invoke(app, ["clear"], env={"DOCKET_URL": "memory://x"})
    assert result.exit_code == 2
    assert "memory:// URL scheme is not supported" in flat(result.output)


@pytest.mark.parametrize(
    "text, expected",
    [
        (None, None),
        ("plain", "plain"),
        ("int:42", 42),
        ("float:3.5", 3.5),
        ("bool:TRUE", True),
        ("bool:yes", False),
        ("decimal.Decimal:9.99", Decimal("9.99")),
        ("datetime.timedelta:90", timedelta(seconds=90)),
        (
            "uuid.UUID:12345678-1234-5678-1234-567812345678",
            UUID("12345678-1234-5678-1234-567812345678"),
        ),
        ("str:a:b", "a:b"),
        ("12:30", "12:30"),
    ],
)
def test_strike_values_are_interpreted_by_their_type_prefix(
    text: str | None, expected: Any
):
    """``type:text`` applies the type; no prefix (or ``str:``) keeps a string."""
    assert interpret_python_value(text) == expected


def test_bad_strike_input_is_a_usage_error():
    """Wildcards only, unknown operators and unknown types all exit 2."""
    cases = [
        (["strike"], "Must provide either a function and/or a parameter"),
        (["strike", "*", "*"], "Must provide either a function and/or a parameter"),
        (["strike", "f", "p", "~="], "is not an operator"),
        (["strike", "f", "p", "==", "nosuchtype:1"], "unknown type"),
        (["strike", "f", "p", "==", "int:abc"], "invalid literal"),
        (["strike", "f", "p", "between", "int:5"], "LOW,HIGH"),
        (["restore", "", ""], "Must provide either a function and/or a parameter"),
    ]
    for args, message in cases:
        result = runner.invoke(app, [*args, "--url", "redis://127.0.0.1:1/0"])
        assert result.exit_code == 2, (args, result.output)
        assert message in flat(result.output), args


def test_version_and_help():
    """``version`` prints the version; no arguments prints the command list."""
    assert runner.invoke(app, ["version"]).output.strip() == __version__
    result = runner.invoke(app, [])
    for command in ("worker", "strike", "restore", "clear", "snapshot", "watch"):
        assert command in result.output


def test_docket_tasks_from_the_environment_is_space_separated(
    monkeypatch: pytest.MonkeyPatch,
):
    """``DOCKET_TASKS`` may name several collections, separated by spaces."""
    seen: dict[str, Any] = {}

    async def fake_run(**kwargs: Any) -> None:
        seen.update(kwargs)

    monkeypatch.setattr(Worker, "run", fake_run)
    env = {"DOCKET_TASKS": "tests._support.cli_tasks:tasks docket.tasks:standard_tasks"}
    result = runner.invoke(app, ["worker"], env=env)
    assert result.exit_code == 0, result.output
    assert seen["tasks"] == [
        "tests._support.cli_tasks:tasks",
        "docket.tasks:standard_tasks",
    ]


def _commands() -> list[list[str]]:
    """Every command and subcommand of ``docket``, as argument lists."""
    from typer.main import get_command

    def walk(command: Any, path: list[str]) -> list[list[str]]:
        found = [path]
        for name in getattr(command, "commands", {}):
            found += walk(command.commands[name], [*path, name])
        return found

    return walk(get_command(app), [])


@pytest.mark.parametrize("columns", ["200", "80"])
def test_help_shows_flags_without_a_type_and_values_by_name(columns: str):
    """No ``--json <bool>`` or ``--help <bool>``: a flag shows nothing after it,
    an option the name of what it takes (URL, NAME, DURATION...), never a
    Python type, in the rich help and in the worker's plain help alike."""
    for path in _commands():
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": columns})
        assert result.exit_code == 0, (path, result.output)
        assert "<bool>" not in result.output, path
        options = [line for line in result.output.splitlines() if " --" in line]
        for line in options:
            assert not re.search(r"--[a-z-]+ +(-\w +)?<(str|int|float|list)", line), (
                path,
                line,
            )


def test_the_worker_command_runs_the_worker_docket_cli_names(
    monkeypatch: pytest.MonkeyPatch,
):
    """Called as a function, ``docket.cli.worker`` runs ``docket.cli.Worker``: code
    that replaces that name (as pydocket's tests do) sees the options it was given."""
    from docket.cli import worker as worker_command

    seen: dict[str, Any] = {}

    class RecordingWorker:
        @staticmethod
        async def run(**kwargs: Any) -> None:
            seen.update(kwargs)

    monkeypatch.setattr("docket.cli.Worker", RecordingWorker)
    worker_command(message_batch=17, schedule_automatic_tasks=False)
    assert seen["message_batch"] == 17
    assert seen["schedule_automatic_tasks"] is False


def test_duration_defaults_are_shown_from_the_defaults_they_take():
    """Each duration option of ``docket worker`` shows as its default the very
    value it takes (read back through the option's parser), and that value is
    Worker's own default (but the CLI's shorter minimum check interval),
    priority aging included: the help text cannot drift from the default the
    worker runs with."""
    import typer

    command = typer.main.get_command(app)
    worker = command.commands["worker"]  # pyright: ignore[reportAttributeAccessIssue]
    defaults = inspect.signature(Worker.__init__).parameters
    checked: list[str] = []
    for param in worker.params:  # pyright: ignore[reportUnknownMemberType]
        if not isinstance(param.default, timedelta):
            continue
        assert duration(param.show_default) == param.default, param.name
        if param.name != "minimum_check_interval":  # the CLI's own, shorter one
            assert param.default == defaults[param.name].default, param.name
        checked.append(param.name)
    assert "priority_aging" in checked and "redelivery_timeout" in checked
