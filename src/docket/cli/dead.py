"""``docket dead ls|show|replay|purge``: the messages workers refused to run."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

from .. import _defaults
from .._dead_letters import DeadLetter, DeadLetters
from ._app import dead_app
from ._common import fail, run, say
from ._options import DocketName, Url

T = TypeVar("T")

DeadId = Annotated[str, typer.Argument(help="The dead letter's id (from 'dead ls')")]


def _with_letters(
    docket_name: str, url: str, action: Callable[[DeadLetters], Awaitable[T]]
) -> T:
    async def body() -> T:
        from ..docket import Docket

        async with Docket(name=docket_name, url=url) as docket:
            return await action(docket.dead_letters)

    return run(body(), url)


def as_json(letter: DeadLetter) -> dict[str, Any]:
    """The stable JSON form of a dead letter (``dead ls --json``, ``dead show``)."""
    return {
        "id": letter.id,
        "reason": letter.reason,
        "detail": letter.detail,
        "worker": letter.worker,
        "dead_at": letter.dead_at.isoformat() if letter.dead_at else None,
        "message_id": letter.message_id,
        "key": letter.key,
        "function": letter.function,
        "fields": sorted(name.decode(errors="replace") for name in letter.fields),
    }


@dead_app.command("ls")
def list_dead(
    docket_name: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
    count: Annotated[int, typer.Option(min=1, help="How many, newest first")] = 100,
    as_json_output: Annotated[
        bool, typer.Option("--json", help="One JSON array, for scripts")
    ] = False,
) -> None:
    """List dead letters, newest first."""
    letters = _with_letters(docket_name, url, lambda d: d.list(count))
    if as_json_output:
        say(json.dumps([as_json(letter) for letter in letters]))
        return
    if not letters:
        say("No dead letters")
        return
    for letter in letters:
        when = letter.dead_at.isoformat() if letter.dead_at else "?"
        say(
            f"{letter.id}  {when}  {letter.reason}  {letter.function!r} "
            f"key={letter.key!r}: {letter.detail}"
        )


@dead_app.command("show")
def show_dead(
    dead_id: DeadId,
    docket_name: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
) -> None:
    """Show one dead letter (its payload is never unpickled here)."""
    letter = _with_letters(docket_name, url, lambda d: d.get(dead_id))
    if letter is None:
        raise fail(f"Error: no dead letter {dead_id!r}")
    document = as_json(letter)
    document["fields"] = {
        name.decode(errors="replace"): value.decode(errors="replace")
        if name not in (b"args", b"kwargs")
        else f"<{len(value)} bytes>"
        for name, value in letter.fields.items()
    }
    say(json.dumps(document, indent=2))


@dead_app.command("replay")
def replay_dead(
    dead_id: DeadId,
    docket_name: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
) -> None:
    """Schedule a dead letter's task again, now, under its key; remove the entry."""

    async def replay(letters: DeadLetters) -> str:
        try:
            execution = await letters.replay(dead_id)
        except (LookupError, ValueError) as error:
            raise fail(f"Error: {error}") from None
        return execution.key

    key = _with_letters(docket_name, url, replay)
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
