"""``docket clear``: remove all pending work from a docket (strikes stay)."""

from __future__ import annotations

from .. import _defaults
from ._app import app
from ._common import run, say
from ._options import DocketName, Url


async def _clear(docket_name: str, url: str) -> int:
    from ..docket import Docket

    async with Docket(name=docket_name, url=url) as docket:
        return await docket.clear()


@app.command()
def clear(
    docket_: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
) -> None:
    """Remove every queued and scheduled task from the docket."""
    cleared = run(_clear(docket_, url), url)
    say(f"Cleared {cleared} tasks from docket {docket_!r}")
