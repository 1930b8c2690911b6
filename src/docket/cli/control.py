"""``docket cancel KEY`` and ``docket replay KEY``."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import _defaults
from ._app import app
from ._common import fail, run, say
from ._options import DocketName, SigningKeysFile, Url
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
    signing_keys: SigningKeysFile = None,
) -> None:
    """Replay the newest archived failure of KEY with its original arguments."""
    replay_one(key, docket_name, url, signing_keys)
