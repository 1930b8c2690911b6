"""``docket fair-share``: the weights of FairShare values, and their backlogs.

docket fair-share                      every weight set, and each backlog's depth
docket fair-share TASK VALUE           one value's weight
docket fair-share TASK VALUE WEIGHT    set it (every worker follows at once)
docket fair-share TASK VALUE --clear   back to the default weight (1)
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from .. import _defaults
from .._text import for_terminal
from ._app import app
from ._common import fail, run, say
from ._options import DocketName, Url


async def _apply(
    docket_name: str,
    url: str,
    task: str,
    value: str,
    weight: float | None,
    clear: bool,
) -> tuple[float, bool]:
    from ..docket import Docket

    async with Docket(name=docket_name, url=url) as docket:
        cleared = False
        if clear:
            cleared = await docket.clear_fair_share_weight(task, value)
        elif weight is not None:
            await docket.set_fair_share_weight(task, value, weight)
        return await docket.get_fair_share_weight(task, value), cleared


async def _listing(docket_name: str, url: str) -> dict[str, Any]:
    from ..docket import Docket

    async with Docket(name=docket_name, url=url) as docket:
        weights = await docket.fair_share_weights()
        backlogs = await docket.fair_share_backlogs()
    return {
        "weights": [
            {"task": task, "value": value, "weight": weight}
            for (task, value), weight in sorted(weights.items())
        ],
        "backlogs": [
            {"task": task, "value": d.value, "queued": d.queued, "weight": d.weight}
            for task, depths in sorted(backlogs.items())
            for d in depths
        ],
    }


def _show_listing(found: dict[str, Any]) -> None:
    if not found["weights"] and not found["backlogs"]:
        say("No fair-share weights set and no fair-share backlogs.")
        return
    for row in found["weights"]:
        say(
            f"weight {row['weight']:g}  {for_terminal(row['task'])}  "
            f"{for_terminal(row['value'])}"
        )
    for row in found["backlogs"]:
        say(
            f"queued {row['queued']:,}  {for_terminal(row['task'])}  "
            f"{for_terminal(row['value'])}  (weight {row['weight']:g})"
        )


@app.command("fair-share")
def fair_share(
    task: Annotated[str | None, typer.Argument(help="The task's name")] = None,
    value: Annotated[
        str | None, typer.Argument(help="A value of its FairShare parameter")
    ] = None,
    weight: Annotated[
        float | None, typer.Argument(help="The value's new weight (positive)")
    ] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="Back to the default weight (1)")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    docket_: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
) -> None:
    """Show or set the weights of FairShare values (a value of weight 3 gets about
    three times the slots of a value of weight 1), and list the fair-share backlogs."""
    if task is None:
        found = run(_listing(docket_, url), url)
        if as_json:
            print(json.dumps(found))
        else:
            _show_listing(found)
        return
    if value is None:
        raise fail("Error: give a VALUE after TASK (or neither, to list everything)")
    if clear and weight is not None:
        raise fail("Error: give a WEIGHT or --clear, not both")
    try:
        current, cleared = run(_apply(docket_, url, task, value, weight, clear), url)
    except (TypeError, ValueError) as error:
        raise fail(f"Error: {error}") from None
    if as_json:
        print(json.dumps({"task": task, "value": value, "weight": current}))
        return
    what = f"{for_terminal(task)} {for_terminal(value)}"
    if clear:
        state = "cleared" if cleared else "was not set"
        say(f"Weight of {what} {state}: {current:g}.")
    elif weight is not None:
        say(f"Weight of {what} set to {current:g}.")
    else:
        say(f"Weight of {what}: {current:g}.")
