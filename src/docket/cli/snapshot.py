"""``docket snapshot``: running, queued and scheduled work, and who runs it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated

import typer

from .. import _defaults
from .._codec.message import DEFAULT_PRIORITY
from .._text import for_terminal
from ._app import app
from ._common import console, fail, run, say
from ._human import count, local, relative
from ._json import snapshot_json
from ._options import (
    DocketName,
    Json,
    ShowArgs,
    SigningKeysFile,
    Tasks,
    Unpickle,
    UnsafeShowArgs,
    Url,
)
from ._options import signing_keys as keys_of
from ._snapshot_view import Row, View, start_order, take
from ._table import TIME_WIDTH, Column, Grid, print_grid

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


def limited(snap: View, task: str | None, limit: int | None) -> View:
    """The view with only ``task``'s rows and at most ``limit`` of them (running
    first, then the soonest due); counts and workers stay whole."""
    running = [r for r in snap.running if task is None or r.function == task]
    future = sorted(
        (r for r in snap.future if task is None or r.function == task),
        key=lambda r: start_order(r, snap.taken),
    )
    if limit is not None:
        running = running[:limit]
        future = future[: max(limit - len(running), 0)]
    return View(
        snap.taken,
        snap.total_tasks,
        snap.workers,
        running,
        future,
        snap.waiting,
        snap.signals,
        snap.fair_share,
        snap.by_priority,
    )


def priority_line(by_priority: dict[int, int]) -> list[str]:
    """``due by priority: 9: 3, 5: 1,200`` when more than one priority waits."""
    if not by_priority:
        return []
    parts = ", ".join(f"{level}: {n:,}" for level, n in by_priority.items())
    return [f"due by priority: {parts}"]


def signal_lines(snap: View) -> list[str]:
    """One line per task waiting for a signal: its key, the signal, since when
    (and its timeout), every name escaped."""
    lines: list[str] = []
    for wait in snap.signals:
        line = (
            f"{for_terminal(wait.key)}: waiting on signal {for_terminal(wait.signal)}"
            f" since {relative(snap.taken, wait.since) or 'unknown'}"
        )
        if wait.deadline is not None:
            line += f", times out {relative(snap.taken, wait.deadline)}"
        lines.append(line)
    return lines


def snapshot_table(docket_name: str, snap: View, show_args: bool = False) -> Grid:
    """One line per task, running (blue), due (cyan), scheduled (yellow); with
    ``show_args`` its arguments on a line under it. A Priority column only when
    a task listed has a priority other than 5."""
    now = snap.taken
    ranked = any(r.priority != DEFAULT_PRIORITY for r in [*snap.running, *snap.future])
    columns = [
        Column("When", least=TIME_WIDTH),
        Column("Task"),
        Column("Key", whole=True),
        Column("Worker"),
        Column("Started", least=TIME_WIDTH),
        *([Column("Priority", justify="right")] if ranked else []),
    ]
    table = Grid(
        columns,
        title=[
            f"Docket: {docket_name!r}",
            f"as of {local(now)}",
            f"{count(len(snap.workers), 'worker')}, "
            f"{len(snap.running)}/{snap.total_tasks} running"
            + (f", {snap.waiting:,} waiting" if snap.waiting else ""),
            *priority_line(snap.by_priority),
        ],
    )
    for running in snap.running:
        cells = [
            relative(now, running.when),
            running.function,
            running.entry.key,
            running.worker,
            relative(now, running.started or now),
            *([str(running.priority)] if ranked else []),
        ]
        table.add_row(*cells, style="blue", detail=_arguments(running, show_args))
    for waiting in snap.future:
        style = "cyan" if waiting.when <= now else "yellow"
        cells = [relative(now, waiting.when), waiting.function, waiting.entry.key]
        point = waiting.suspended
        if point is not None and point.since is not None:  # Suspend.until
            since = datetime.fromtimestamp(point.since, now.tzinfo)
            cells += ["(suspended)", relative(now, since)]
        else:
            cells += ["", ""]
        if ranked:
            cells.append(str(waiting.priority))
        table.add_row(*cells, style=style, detail=_arguments(waiting, show_args))
    return table


def _arguments(row: Row, show: bool) -> str:
    """With --show-args, a line under the task: its arguments or why not."""
    if not show:
        return ""
    text = row.entry.arguments
    return f"{row.function}{text}" if text.startswith("(") else text


def stats_table(snap: View) -> Grid:
    """Counts per function, most numerous first."""
    now = snap.taken
    running = Counter(r.function for r in snap.running)
    waiting: dict[str, list[Row]] = {}
    for row in snap.future:
        waiting.setdefault(row.function, []).append(row)
    names = set(running) | set(waiting)
    table = Grid(
        [
            Column("Function"),
            Column("Total", justify="right"),
            Column("Running", justify="right"),
            Column("Queued", justify="right"),
            Column("Oldest Queued", least=TIME_WIDTH),
            Column("Latest Queued", least=TIME_WIDTH),
        ],
        title=["", "Task Count Statistics by Function"],
    )
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
                    relative(now, min(whens)) if whens else "",
                    relative(now, max(whens)) if whens else "",
                ],
            )
        )
    for _, _, cells in sorted(rows, key=lambda row: (-row[0], row[1])):
        table.add_row(*cells)
    return table


DEFAULT_LIMIT = 50


@app.command()
def snapshot(
    tasks: Tasks = [_defaults.STANDARD_TASKS],
    docket_: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
    stats: Annotated[
        bool, typer.Option("--stats", help="Also count tasks by function")
    ] = False,
    task: Annotated[
        str | None, typer.Option("--task", "-t", help="Only tasks of this name")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            "-n",
            min=1,
            show_default=f"{DEFAULT_LIMIT}, all with --json",
            help="At most this many tasks (running first, then the soonest due)",
        ),
    ] = None,
    show_args: ShowArgs = False,
    unpickle: Unpickle = False,
    as_json: Json = False,
    signing_keys: SigningKeysFile = None,
    unsafe_show_args: UnsafeShowArgs = False,
) -> None:
    """Show the running, queued and scheduled tasks of a docket, one line each.

    --show-args adds their arguments: shown when they verify against the
    signing keys; without keys only with --unpickle. Entries that cannot be
    read or verified are listed, marked, and never decoded."""
    keys = keys_of(signing_keys)
    unsafe = unpickle or unsafe_show_args
    try:
        whole = run(take(docket_, url, tasks, keys, unsafe), url)
    except (ValueError, ImportError, AttributeError) as error:
        raise fail(f"Error: {error}") from None
    if as_json:
        say(snapshot_json(docket_, limited(whole, task, limit)))
        return
    snap = limited(whole, task, limit or DEFAULT_LIMIT)
    print_grid(console, snapshot_table(docket_, snap, show_args or unsafe))
    matching = limited(whole, task, None)
    shown = len(snap.running) + len(snap.future)
    everything = len(matching.running) + len(matching.future)
    if shown < everything:
        say(f"Showing {shown:,} of {count(everything, 'task')}: --limit N shows more")
    for line in signal_lines(snap):
        say(line)
    if stats and (whole.running or whole.future):
        print_grid(console, stats_table(matching))
    for line in fair_share_lines(whole):
        say(line)


def fair_share_lines(snap: View) -> list[str]:
    """One line per FairShare value with a backlog: task, value, depth, weight."""
    lines: list[str] = []
    for task, depths in sorted((snap.fair_share or {}).items()):
        for depth in depths:
            lines.append(
                f"Fair share: {for_terminal(task)} '{for_terminal(depth.value)}': "
                f"{depth.queued:,} queued, weight {depth.weight:g}"
            )
    return lines
