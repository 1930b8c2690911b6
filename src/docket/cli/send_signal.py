"""``docket signal NAME [PAYLOAD]``: send a signal to the task waiting for it."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any

import typer

from .. import _defaults
from .._text import for_terminal
from ._app import app
from ._common import fail, run, say
from ._human import span
from ._options import DocketName, SigningKeysFile, Url, duration_option
from ._options import signing_keys as keys_of


async def _send(
    docket_name: str,
    url: str,
    keys: list[str] | None,
    name: str,
    payload: Any,
    lookback: timedelta | None,
) -> tuple[bool, timedelta]:
    from ..docket import Docket

    async with Docket(name=docket_name, url=url, signing_keys=keys) as docket:
        sent = await docket.signal(name, payload, lookback=lookback)
        return sent, docket.signal_lookback if lookback is None else lookback


@app.command("signal")
def send_signal(
    name: Annotated[str, typer.Argument(help="The signal's name")],
    payload: Annotated[
        str,
        typer.Argument(help="The payload, as JSON (default: null)", show_default=False),
    ] = "",
    lookback: Annotated[
        timedelta | None,
        typer.Option(
            "--lookback",
            parser=duration_option,
            metavar="DURATION",
            show_default="1d",
            help="How long to keep it when no task waits for it (0: not kept)",
        ),
    ] = None,
    docket_: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
    signing_keys: SigningKeysFile = None,
) -> None:
    """Send signal NAME (a task waiting for it runs with PAYLOAD as its value);
    with no task waiting it is kept for the first one to come."""
    try:
        value = json.loads(payload) if payload else None
    except ValueError:
        raise fail(f"Error: the payload must be JSON, got {payload!r}") from None
    try:
        sent, kept = run(
            _send(docket_, url, keys_of(signing_keys), name, value, lookback), url
        )
    except ValueError as error:
        raise fail(f"Error: {error}") from None
    shown = for_terminal(name)
    if sent:
        say(f"Signal {shown} sent: a waiting task received it")
    elif kept > timedelta(0):
        say(
            f"Signal {shown} kept for {span(kept.total_seconds())}: no task waits for it"
        )
    else:
        say(f"Signal {shown} dropped: no task waits for it")
