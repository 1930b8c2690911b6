"""``docket cancel KEY`` and ``docket replay KEY``."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import _defaults
from .._console.describe import FINISHED
from .._keys import check_task_key
from .._text import for_terminal
from ._app import app
from ._common import fail, run, say
from ._options import DocketName, SigningKeysFile, Url
from .failed import replay_one


async def _cancel(docket_name: str, url: str, key: str) -> str | None:
    """Cancel ``key``; None when it was cancelled, else why nothing changed
    (an unknown key is left alone: no record is written for it)."""
    from ..docket import Docket

    async with Docket(name=docket_name, url=url) as docket:
        check_task_key(key)
        record = await docket.broker.runs.record(key)
        if record is None or record.state is None:
            return (
                f"Error: no task with key {for_terminal(key)!r} in docket "
                f"{for_terminal(docket_name)!r}: nothing to cancel"
            )
        if record.state in FINISHED:
            return (
                f"Error: task {for_terminal(key)!r} already {record.state}: "
                "nothing to cancel"
            )
        await docket.cancel(key)
    return None


@app.command()
def cancel(
    key: Annotated[str, typer.Argument(help="The task key")],
    docket_: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
) -> None:
    """Cancel the task KEY wherever it waits, and stop it if it runs.

    Exits 1, changing nothing, when the docket has no such task or it has
    already finished."""
    try:
        problem = run(_cancel(docket_, url, key), url)
    except ValueError as error:
        raise fail(f"Error: {error}") from None
    if problem is not None:
        raise fail(problem)
    say(f"Cancelled {for_terminal(key)}")


@app.command("replay")
def replay(
    key: Annotated[str, typer.Argument(help="The task key")],
    docket_: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
    signing_keys: SigningKeysFile = None,
) -> None:
    """Replay the failed task KEY (its newest failure) with its original arguments."""
    replay_one(key, docket_, url, signing_keys)
