"""``docket dead ls|show|replay|purge``: the messages workers refused to run."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Annotated, TypeVar

import typer

from .. import _defaults
from .._console.dead_letters import DeadLetter, DeadLetters
from .._text import for_terminal
from ._app import dead_app
from ._common import console, fail, run, say
from ._human import count, local_and_relative, relative
from ._options import DocketName, SigningKeysFile, Url
from ._options import signing_keys as keys_of
from ._table import TIME_WIDTH, Column, Grid, print_grid

T = TypeVar("T")

DeadId = Annotated[str, typer.Argument(help="The dead letter's id (from 'dead ls')")]


def _with_letters(
    docket_name: str,
    url: str,
    action: Callable[[DeadLetters], Awaitable[T]],
    keys: list[str] | None = None,
) -> T:
    async def body() -> T:
        from ..docket import Docket

        async with Docket(name=docket_name, url=url, signing_keys=keys) as docket:
            return await action(docket.dead_letters)

    return run(body(), url)


@dead_app.command("ls")
def list_dead(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1)] = 50,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="List those older than this id")
    ] = None,
    task: Annotated[
        str | None,
        typer.Option("--task", "-t", help="Only dead letters of this task name"),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON document, for scripts")
    ] = False,
    docket_: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
) -> None:
    """List dead letters, newest first, one line each (the Id is what 'dead
    show', 'dead replay' and 'dead purge' take)."""
    page = _with_letters(docket_, url, lambda d: d.list(limit, cursor))
    following = page[-1].id if len(page) == limit else None
    letters = [d for d in page if task is None or d.function == task]
    if as_json:
        document = {"letters": [letter.as_dict() for letter in letters]}
        say(json.dumps({**document, "cursor": following}, indent=2))
        return
    if letters:
        print_grid(console, dead_table(letters))
    elif not following:
        say("No dead letters")
    if following:
        say(f"More: --cursor {following}")


def dead_table(letters: list[DeadLetter]) -> Grid:
    now = datetime.now(timezone.utc)
    table = Grid(
        [
            Column("Id", whole=True),
            Column("Dead", least=TIME_WIDTH),
            Column("Task"),
            Column("Key", whole=True),
            Column("Reason"),
        ],
        title=["Dead letters, newest first"],
    )
    for letter in letters:
        table.add_row(
            letter.id,
            relative(now, letter.dead_at),
            letter.function,
            letter.key,
            letter.reason,
        )
    return table


def dead_detail(letter: DeadLetter) -> list[str]:
    """``dead show``: one field a line (escaped), payloads by size only."""
    now = datetime.now(timezone.utc)
    document = letter.as_dict()
    lines = [
        f"Id: {letter.id}",
        f"Key: {for_terminal(letter.key)}",
        f"Task: {for_terminal(letter.function)}",
        f"Reason: {for_terminal(letter.reason)}",
        f"Detail: {for_terminal(letter.detail)}",
        f"Worker: {for_terminal(letter.worker)}",
        f"Dead since: {local_and_relative(now, letter.dead_at)}",
        f"Message id: {for_terminal(letter.message_id)}",
        "Fields:",
    ]
    for name, value in sorted(document["fields"].items()):
        lines.append(f"  {for_terminal(name)}: {for_terminal(value)}")
    for name, size in sorted(document["payload_bytes"].items()):
        lines.append(f"  {for_terminal(name)}: <{count(size, 'byte')}, not decoded>")
    return lines


@dead_app.command("show")
def show_dead(
    dead_id: DeadId,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON document, for scripts")
    ] = False,
    docket_: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
) -> None:
    """Show one dead letter (its payload is never unpickled here)."""
    letter = _with_letters(docket_, url, lambda d: d.get(dead_id))
    if letter is None:
        raise fail(f"Error: no dead letter {dead_id!r}")
    if as_json:
        say(json.dumps(letter.as_dict(), indent=2))
        return
    say("\n".join(dead_detail(letter)))


@dead_app.command("replay")
def replay_dead(
    dead_id: DeadId,
    docket_: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
    signing_keys: SigningKeysFile = None,
) -> None:
    """Schedule a dead letter's task again, now, under its key; remove the entry.

    With signing keys its arguments must verify first (and are signed again)."""

    async def replay(letters: DeadLetters) -> str:
        try:
            execution = await letters.replay(dead_id)
        except (LookupError, ValueError) as error:
            raise fail(f"Error: {error}") from None
        return execution.key

    key = _with_letters(docket_, url, replay, keys_of(signing_keys))
    say(f"Replayed {for_terminal(dead_id)} as task key {key!r}")


@dead_app.command("purge")
def purge_dead(
    dead_ids: Annotated[
        list[str] | None, typer.Argument(help="Dead letter ids; none with --all")
    ] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Remove every dead letter")
    ] = False,
    docket_: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
) -> None:
    """Remove dead letters by id, or all of them with --all."""
    if bool(dead_ids) == everything:
        raise fail("Error: give dead letter ids, or --all (not both)", code=2)
    removed = _with_letters(
        docket_, url, lambda d: d.purge(None if everything else dead_ids)
    )
    say(f"Removed {count(removed, 'dead letter')}")
