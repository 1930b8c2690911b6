"""``docket dead ls|show|replay|purge``: the messages workers refused to run."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.table import Table

from .. import _defaults
from .._dead_letters import DeadLetters
from ._app import dead_app
from ._common import console, fail, run, say
from ._options import DocketName, SigningKeysFile, Url
from ._options import signing_keys as keys_of

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
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON document, for scripts")
    ] = False,
    docket_name: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
) -> None:
    """List dead letters, newest first."""
    letters = _with_letters(docket_name, url, lambda d: d.list(limit, cursor))
    following = letters[-1].id if len(letters) == limit else None
    if as_json:
        document = {"letters": [letter.as_dict() for letter in letters]}
        say(json.dumps({**document, "cursor": following}, indent=2))
        return
    if not letters:
        say("No dead letters")
        return
    table = Table(title="Dead letters, newest first")
    for column in ("Id", "Dead since", "Task", "Key", "Reason", "Detail"):
        table.add_column(column, overflow="fold")
    for letter in letters:
        table.add_row(
            letter.id,
            letter.dead_at.isoformat(timespec="seconds") if letter.dead_at else "?",
            letter.function,
            letter.key,
            letter.reason,
            letter.detail,
        )
    console.print(table)
    if following:
        say(f"More: --cursor {following}")


@dead_app.command("show")
def show_dead(
    dead_id: DeadId,
    docket_name: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
) -> None:
    """Show one dead letter as JSON (its payload is never unpickled here)."""
    letter = _with_letters(docket_name, url, lambda d: d.get(dead_id))
    if letter is None:
        raise fail(f"Error: no dead letter {dead_id!r}")
    say(json.dumps(letter.as_dict(), indent=2))


@dead_app.command("replay")
def replay_dead(
    dead_id: DeadId,
    docket_name: DocketName = _defaults.DOCKET_NAME,
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

    key = _with_letters(docket_name, url, replay, keys_of(signing_keys))
    say(f"Replayed {dead_id} as task key {key!r}")


@dead_app.command("purge")
def purge_dead(
    dead_ids: Annotated[
        list[str] | None, typer.Argument(help="Dead letter ids; none with --all")
    ] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Remove every dead letter")
    ] = False,
    docket_name: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
) -> None:
    """Remove dead letters by id, or all of them with --all."""
    if bool(dead_ids) == everything:
        raise fail("Error: give dead letter ids, or --all (not both)", code=2)
    removed = _with_letters(
        docket_name, url, lambda d: d.purge(None if everything else dead_ids)
    )
    say(f"Removed {removed} dead letter(s)")
