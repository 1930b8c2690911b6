"""``docket cancel KEY`` and ``docket replay KEY``; ``docket dead ls``."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from .. import _defaults
from ..archive import DeadPage
from ._app import app, dead_app
from ._common import console, fail, run, say
from ._options import DocketName, Json, Url
from .failed import replay_one


async def _cancel(docket_name: str, url: str, key: str) -> None:
    from ..docket import Docket

    async with Docket(name=docket_name, url=url) as docket:
        await docket.cancel(key)


@app.command()
def cancel(
    key: Annotated[str, typer.Argument(help="The task key")],
    docket_name: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
) -> None:
    """Cancel the task KEY wherever it waits, and stop it if it runs."""
    try:
        run(_cancel(docket_name, url, key), url)
    except ValueError as error:
        raise fail(f"Error: {error}") from None
    say(f"Cancelled {key}")


@app.command("replay")
def replay(
    key: Annotated[str, typer.Argument(help="The task key")],
    docket_name: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
) -> None:
    """Replay the newest archived failure of KEY with its original arguments."""
    replay_one(key, docket_name, url)


async def _dead(docket_name: str, url: str, limit: int, cursor: str | None) -> Any:
    from ..docket import Docket

    async with Docket(name=docket_name, url=url) as docket:
        return await docket.dead_letters(limit, cursor)


@dead_app.command("ls")
def list_dead(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1)] = 50,
    cursor: Annotated[str | None, typer.Option("--cursor")] = None,
    as_json: Json = False,
    docket_name: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
) -> None:
    """List dead letters, newest first."""
    page: DeadPage = run(_dead(docket_name, url, limit, cursor), url)
    if as_json:
        letters = [letter.as_dict() for letter in page.letters]
        say(json.dumps({"letters": letters, "cursor": page.cursor}, indent=2))
        return
    table = Table(title="Dead letters, newest first")
    for column in ("Dead since", "Task", "Key", "Reason"):
        table.add_column(column, overflow="fold")
    for letter in page.letters:
        fields = letter.fields
        table.add_row(
            letter.dead_at.isoformat(timespec="seconds"),
            fields.get("function", ""),
            fields.get("key", ""),
            fields.get("reason", fields.get("error", "")),
        )
    console.print(table)
    if page.cursor:
        say(f"More: --cursor {page.cursor}")
