"""``docket strikes`` (also ``docket strike ls``): the strikes and pauses in effect."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .. import _codec, _defaults
from .._console.pausing import Pause
from .._text import for_terminal
from ._app import app
from ._common import console, run, say
from ._human import relative
from ._options import DocketName, Json, SigningKeysFile, Url
from ._options import signing_keys as keys_of
from ._table import TIME_WIDTH, Column, Grid, print_grid


@dataclass(frozen=True)
class StrikeRow:
    task: str | None  # None: every task
    parameter: str | None  # None: the whole task
    operator: str
    value: Any


async def _read(
    docket_name: str, url: str, keys: list[str] | None
) -> tuple[list[StrikeRow], list[Pause]]:
    from ..docket import Docket

    async with Docket(name=docket_name, url=url, signing_keys=keys) as docket:
        await docket.wait_for_strikes_loaded()
        strikes = docket.strike_list
        rows = [StrikeRow(task, None, "", None) for task in strikes.struck_functions]
        for task, parameters in strikes.task_strikes.items():
            for parameter, pairs in parameters.items():
                for operator, value in pairs:
                    rows.append(StrikeRow(task, parameter, operator.value, value))
        for parameter, pairs in strikes.parameter_strikes.items():
            for operator, value in pairs:
                rows.append(StrikeRow(None, parameter, operator.value, value))
        rows.sort(key=lambda r: (r.task or "", r.parameter or "", r.operator))
        return rows, await docket.pauses()


def _strike_dict(row: StrikeRow) -> dict[str, Any]:
    return {
        "task": row.task,
        "parameter": row.parameter,
        "operator": row.operator or None,
        "value": None if row.parameter is None else repr(row.value),
    }


def _pause_dict(pause: Pause) -> dict[str, Any]:
    return {
        "task": pause.task,
        "since": None if pause.since is None else _codec.iso(pause.since),
        "waiting": pause.waiting,
    }


def _tables(
    docket_name: str, rows: list[StrikeRow], pauses: list[Pause]
) -> tuple[Grid, Grid]:
    now = datetime.now(timezone.utc)
    struck = Grid(
        [Column("Task", style="cyan"), Column("Strikes")],
        title=[f"Strikes in docket {docket_name!r}"],
    )
    for row in rows:
        what = (
            "the whole task"
            if row.parameter is None
            else f"{row.parameter} {row.operator} {row.value!r}"
        )
        struck.add_row(row.task or "* (every task)", what)
    held = Grid(
        [
            Column("Task", style="cyan"),
            Column("Paused", least=TIME_WIDTH),
            Column("Waiting", justify="right"),
        ],
        title=[f"Paused in docket {docket_name!r}"],
    )
    for pause in pauses:
        since = "?" if pause.since is None else relative(now, pause.since)
        held.add_row(pause.task, since, f"{pause.waiting:,}")
    return struck, held


def list_strikes(
    docket_name: str, url: str, signing_keys: str | None, as_json: bool
) -> None:
    """Print the strikes and the paused task types of a docket."""
    rows, pauses = run(_read(docket_name, url, keys_of(signing_keys)), url)
    if as_json:
        document = {
            "strikes": [_strike_dict(row) for row in rows],
            "paused": [_pause_dict(pause) for pause in pauses],
        }
        say(json.dumps(document, indent=2))
        return
    struck, held = _tables(docket_name, rows, pauses)
    if rows:
        print_grid(console, struck)
    else:
        say(f"Nothing is struck in docket {for_terminal(docket_name)!r}.")
    if pauses:
        print_grid(console, held)
    else:
        say(f"Nothing is paused in docket {for_terminal(docket_name)!r}.")


@app.command("strikes")
def strikes(
    docket_: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
    signing_keys: SigningKeysFile = None,
    as_json: Json = False,
) -> None:
    """List the strikes in effect and the paused task types (also: docket strike ls)."""
    list_strikes(docket_, url, signing_keys, as_json)
