"""``docket failed ls|show|replay|purge``: the failed tasks."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

import typer

from .. import _defaults
from .._console.entries import FailedPage, FailedTask
from .._text import for_lines, for_terminal
from ..execution import Disposition
from ._app import failed_app
from ._common import console, fail, run, say
from ._human import count as count_of
from ._human import local_and_relative, relative
from ._options import (
    DocketName,
    Json,
    ShowArgs,
    SigningKeysFile,
    Unpickle,
    Url,
    duration_option,
)
from ._options import signing_keys as keys_of
from ._table import TIME_WIDTH, Column, Grid, print_grid

ERROR_WIDTH = 20  # what the error column keeps on a narrow terminal
TRACEBACK_INDENT = "    "  # no line of a stored traceback starts a line of output

Task = Annotated[
    str | None, typer.Option("--task", "-t", help="Only failures of this task name")
]
ErrorType = Annotated[
    str | None,
    typer.Option("--error-type", "-e", help="Only this exception class name"),
]
Since = Annotated[
    timedelta | None,
    typer.Option(
        "--since",
        parser=duration_option,
        metavar="DURATION",
        help="Only failures within this long (10m, 2h, 1d, ...)",
    ),
]


async def _open(
    docket_name: str, url: str, body: Any, keys_file: str | None = None
) -> Any:
    from ..docket import Docket

    keys = keys_of(keys_file)
    async with Docket(name=docket_name, url=url, signing_keys=keys) as docket:
        return await body(docket)


def _run(docket_name: str, url: str, body: Any, keys_file: str | None = None) -> Any:
    """Run ``body(docket)``; a bad filter or value is a one-line error, exit 1."""
    try:
        return run(_open(docket_name, url, body, keys_file), url)
    except ValueError as error:
        raise fail(f"Error: {error}") from None


def _page_json(page: FailedPage, unpickle: bool) -> str:
    return json.dumps(
        {
            "tasks": [t.as_dict(unpickle, traceback=False) for t in page.tasks],
            "cursor": page.cursor,
        },
        indent=2,
    )


def failed_table(page: FailedPage, unpickle: bool, show_args: bool = False) -> Grid:
    """One line per failure; with ``show_args`` its arguments on a line under it."""
    now = datetime.now(timezone.utc)
    table = Grid(
        [
            Column("Failed", least=TIME_WIDTH),
            Column("Task"),
            Column("Key", whole=True),
            Column("Try", justify="right"),
            Column("Error", least=ERROR_WIDTH),
        ],
        title=["Failed tasks, newest first"],
    )
    for task in page.tasks:
        arguments = task.arguments(unpickle) if show_args else ""
        table.add_row(
            relative(now, task.failed_at),
            task.function,
            task.key,
            task.attempt,
            f"{task.error_type}: {task.message}",
            detail=arguments,
        )
    return table


def failed_detail(task: FailedTask, unpickle: bool) -> list[str]:
    """``failed show``: one field a line, then the traceback (all escaped)."""
    now = datetime.now(timezone.utc)
    fields = [
        ("Key", task.key),
        ("Task", task.function),
        ("Arguments", task.arguments(unpickle)),
        ("Error", f"{task.error_type}: {task.message}"),
        ("Attempt", str(task.attempt)),
        ("Worker", task.worker),
        ("Due", local_and_relative(now, task.when)),
        ("Started", local_and_relative(now, task.started_at)),
        ("Failed", local_and_relative(now, task.failed_at)),
        ("Entry id", task.id),
    ]
    lines = [f"{name}: {for_terminal(value)}" for name, value in fields]
    traceback = for_lines(task.traceback.rstrip()).split("\n")
    return [*lines, "Traceback:", *(TRACEBACK_INDENT + line for line in traceback)]


@failed_app.command("ls")
def list_failed(
    task: Task = None,
    error_type: ErrorType = None,
    since: Since = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1)] = 50,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="Go on from a previous page")
    ] = None,
    show_args: ShowArgs = False,
    unpickle: Unpickle = False,
    as_json: Json = False,
    docket_: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
    signing_keys: SigningKeysFile = None,
) -> None:
    """List failed tasks, newest first, one line each.

    --show-args adds their arguments (shown when they verify against the
    signing keys, or with --unpickle on a docket without keys)."""

    async def body(docket: Any) -> FailedPage:
        return await docket.failed_tasks.list(
            task, error_type, None, since, limit, cursor
        )

    page = _run(docket_, url, body, signing_keys)
    if as_json:
        say(_page_json(page, unpickle))
        return
    if not page.tasks:
        say("No failed tasks")
        return
    print_grid(console, failed_table(page, unpickle, show_args or unpickle))
    if page.cursor:
        say(f"More: --cursor {page.cursor}")


@failed_app.command("show")
def show_failed(
    key: Annotated[str, typer.Argument(help="The task key")],
    unpickle: Unpickle = False,
    as_json: Json = False,
    docket_: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
    signing_keys: SigningKeysFile = None,
) -> None:
    """Show the newest failure of KEY, with its traceback."""

    async def body(docket: Any) -> FailedTask | None:
        return await docket.failed_tasks.get(key)

    task = _run(docket_, url, body, signing_keys)
    if task is None:
        raise fail(f"Error: no failed task with key {key!r}")
    if as_json:
        say(json.dumps(task.as_dict(unpickle), indent=2))
        return
    say("\n".join(failed_detail(task, unpickle)))


@failed_app.command("replay")
def replay_failed(
    key: Annotated[
        str | None, typer.Argument(help="The task key (or --all with filters)")
    ] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Replay every failure matching the filters")
    ] = False,
    task: Task = None,
    error_type: ErrorType = None,
    since: Since = None,
    docket_: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
    signing_keys: SigningKeysFile = None,
) -> None:
    """Add failed tasks again with their original arguments (with signing
    keys, only those that verify; they are signed again)."""
    if (key is None) == (not everything):
        raise fail("Error: give a KEY, or --all (with optional filters)", 2)
    if key is not None:
        replay_one(key, docket_, url, signing_keys)
        return

    async def body(docket: Any) -> int:
        return await docket.failed_tasks.replay_all(task, error_type, since)

    count = _run(docket_, url, body, signing_keys)
    say(f"Replayed {count_of(count, 'failed task')}")


def replay_one(
    key: str, docket_name: str, url: str, keys_file: str | None = None
) -> None:
    async def body(docket: Any) -> Disposition:
        return await docket.failed_tasks.replay(key)

    try:
        disposition = run(_open(docket_name, url, body, keys_file), url)
    except KeyError:
        raise fail(f"Error: no failed task with key {key!r}") from None
    except ValueError as error:
        raise fail(f"Error: {error}") from None
    if disposition is Disposition.SCHEDULED:
        say(f"Replayed {for_terminal(key)}")
    else:
        raise fail(
            f"Error: {key!r} is already scheduled; the failure stays among the failed tasks"
        )


@failed_app.command("purge")
def purge_failed(
    everything: Annotated[
        bool, typer.Option("--all", help="Purge every failed task")
    ] = False,
    task: Task = None,
    error_type: ErrorType = None,
    key: Annotated[str | None, typer.Option("--key", "-k")] = None,
    older_than: Annotated[
        timedelta | None,
        typer.Option(
            "--older-than",
            parser=duration_option,
            metavar="DURATION",
            help="Only failures older than this (30m, 12h, 1d, ...)",
        ),
    ] = None,
    docket_: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
) -> None:
    """Remove the failed tasks matching every filter given (--all for all)."""
    filtered = any(v is not None for v in (task, error_type, key, older_than))
    if filtered == everything:
        raise fail("Error: give filters, or --all to purge every failed task", 2)

    async def body(docket: Any) -> int:
        return await docket.failed_tasks.purge(task, error_type, key, older_than)

    count = _run(docket_, url, body)
    say(f"Purged {count_of(count, 'failed task')}")
