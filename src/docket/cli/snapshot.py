"""``docket snapshot``: running, queued and scheduled work, and who runs it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from .. import _defaults
from .._inspection import Entry
from ._app import app
from ._common import console, fail, run, say
from ._json import snapshot_json
from ._options import DocketName, Json, SigningKeysFile, Tasks, UnsafeShowArgs, Url
from ._options import signing_keys as keys_of
from ._snapshot_view import Row, View, take

LOCAL_FORMAT = "%Y-%m-%d %H:%M:%S %z"
_NEAR = timedelta(minutes=30)


def _short(delta: timedelta) -> timedelta:
    return timedelta(days=delta.days, seconds=delta.seconds)


def relative_time(now: datetime, when: datetime) -> str:
    """``in 0:05:00`` / ``0:02:10 ago`` within half an hour, else ``at <local>``."""
    if when - now > _NEAR or now - when >= _NEAR:
        return f"at {when.astimezone().strftime(LOCAL_FORMAT)}"
    if when > now:
        return f"in {_short(when - now)}"
    return f"{_short(now - when)} ago"


def _arguments(entry: Entry) -> Text:
    return Text(entry.arguments, style="" if entry.readable else "bold red")


def snapshot_table(docket_name: str, snap: View) -> Table:
    now = snap.taken
    title = (
        f"Docket: {docket_name!r}\n"
        f"as of {now.astimezone().strftime(LOCAL_FORMAT)}\n"
        f"{len(snap.workers)} workers, {len(snap.running)}/{snap.total_tasks} running"
    )
    table = Table(title=title)
    for column in ("When", "Function", "Key", "Worker", "Started", "Arguments"):
        table.add_column(column, overflow="fold")
    for running in snap.running:
        table.add_row(
            relative_time(now, running.when),
            Text(running.function),
            Text(running.entry.key),
            Text(running.worker or ""),
            relative_time(now, running.started or now),
            _arguments(running.entry),
            style="blue",
        )
    for waiting in sorted(snap.future, key=lambda r: r.when):
        style = "cyan" if waiting.when <= now else "yellow"
        table.add_row(
            relative_time(now, waiting.when),
            Text(waiting.function),
            Text(waiting.entry.key),
            "",
            "",
            _arguments(waiting.entry),
            style=style,
        )
    return table


def stats_table(snap: View) -> Table:
    """Counts per function, most numerous first."""
    now = snap.taken
    running = Counter(r.function for r in snap.running)
    waiting: dict[str, list[Row]] = {}
    for row in snap.future:
        waiting.setdefault(row.function, []).append(row)
    names = set(running) | set(waiting)
    table = Table(title="Task Count Statistics by Function")
    for column in ("Function", "Total", "Running", "Queued"):
        table.add_column(column, justify="left" if column == "Function" else "right")
    table.add_column("Oldest Queued")
    table.add_column("Latest Queued")
    rows: list[tuple[int, str, Sequence[str]]] = []
    for name in names:
        queued = waiting.get(name, [])
        whens = [r.when for r in queued]
        total = running[name] + len(queued)
        rows.append(
            (
                total,
                name,
                [
                    name,
                    str(total),
                    str(running[name]),
                    str(len(queued)),
                    relative_time(now, min(whens)) if whens else "",
                    relative_time(now, max(whens)) if whens else "",
                ],
            )
        )
    for _, _, cells in sorted(rows, key=lambda row: (-row[0], row[1])):
        table.add_row(*(Text(cell) for cell in cells))
    return table


@app.command()
def snapshot(
    tasks: Tasks = [_defaults.STANDARD_TASKS],
    docket_name: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
    stats: Annotated[
        bool, typer.Option("--stats", help="Also count tasks by function")
    ] = False,
    as_json: Json = False,
    signing_keys: SigningKeysFile = None,
    unsafe_show_args: UnsafeShowArgs = False,
) -> None:
    """Show the running, queued and scheduled tasks of a docket.

    Arguments are shown when they verify against the signing keys; without
    keys only with --unsafe-show-args. Entries that cannot be read or verified
    are listed, marked, and never decoded."""
    keys = keys_of(signing_keys)
    try:
        snap = run(take(docket_name, url, tasks, keys, unsafe_show_args), url)
    except (ValueError, ImportError, AttributeError) as error:
        raise fail(f"Error: {error}") from None
    if as_json:
        say(snapshot_json(docket_name, snap))
        return
    console.print(snapshot_table(docket_name, snap))
    if stats and (snap.running or snap.future):
        console.print(stats_table(snap))
