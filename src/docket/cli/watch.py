"""``docket watch KEY``: follow one task's state and progress live."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from .. import _codec, _defaults
from .._console.describe import Entry, describe_record
from .._text import for_rich, for_terminal
from ..execution import TERMINAL, ExecutionState
from ._app import app
from ._common import console, fail, iterate_with_timeout, run
from ._options import (
    DocketName,
    SigningKeysFile,
    Unpickle,
    UnsafeShowArgs,
    WatchUrl,
)
from ._options import signing_keys as keys_of

if TYPE_CHECKING:
    from ..docket import Docket
    from ..execution import Execution

STATE_COLOURS = {
    ExecutionState.SCHEDULED: "yellow",
    ExecutionState.WAITING: "yellow",
    ExecutionState.QUEUED: "cyan",
    ExecutionState.RUNNING: "blue",
    ExecutionState.COMPLETED: "green",
    ExecutionState.FAILED: "red",
    ExecutionState.CANCELLED: "magenta",
}
OUTCOMES = {
    ExecutionState.COMPLETED: ("✓ Task completed successfully", "green"),
    ExecutionState.FAILED: ("✗ Task failed", "red"),
    ExecutionState.CANCELLED: ("✗ Task cancelled", "magenta"),
}
RESYNC_SECONDS = 1.0


class WatchView:
    """What ``watch`` shows; ``render`` is called again on every refresh."""

    def __init__(
        self, docket_name: str, execution: Execution, entry: Entry | None = None
    ) -> None:
        self.docket_name = docket_name
        self.execution = execution
        self.entry = entry
        self.show_progress = False
        self._update_progress_flag()

    def _update_progress_flag(self) -> None:
        p = self.execution.progress
        if (p.current or 0) > 0 and p.total > 0:
            self.show_progress = True

    def apply(self, event: dict[str, Any]) -> None:
        execution = self.execution
        if event.get("type") == "state":
            execution.state = ExecutionState(event["state"])
            execution.worker = event.get("worker") or execution.worker
            execution.error = event.get("error") or execution.error
            for field in ("started_at", "completed_at"):
                if moment := event.get(field):
                    setattr(execution, field, _codec.from_iso(moment))
            return
        if event.get("type") == "progress":
            p = execution.progress
            p.current = int(event.get("current") or 0)
            p.total = int(event.get("total") or p.total)
            p.message = event.get("message")
            if execution.state is ExecutionState.RUNNING:
                self.show_progress = p.total > 0
            self._update_progress_flag()

    @property
    def finished(self) -> bool:
        return self.execution.state in TERMINAL

    def render(self) -> RenderableType:
        """What the terminal shows; every text from Redis is escaped."""
        execution = self.execution
        state = execution.state
        lines: list[RenderableType] = [
            for_rich(f"Task: {for_terminal(execution.key)}"),
            for_rich(f"Docket: {for_terminal(self.docket_name)}"),
        ]
        if self.entry is not None:
            style = "" if self.entry.readable else "bold red"
            shown = for_rich(self.entry.arguments, style)
            lines.append(Text.assemble("Arguments: ", shown))
        lines += [
            Text.assemble(
                "State: ", (state.value.upper(), f"bold {STATE_COLOURS[state]}")
            ),
        ]
        if execution.worker:
            lines.append(for_rich(f"Worker: {for_terminal(execution.worker)}"))
        if execution.error:
            lines.append(Text.assemble("Error: ", for_rich(execution.error, "red")))
        if state in OUTCOMES:
            text, style = OUTCOMES[state]
            lines.append(Text(text, style=style))
        if self.show_progress:
            lines.append(self._progress())
        return Group(*lines)

    def _progress(self) -> RenderableType:
        p = self.execution.progress
        total = max(p.total, 1)
        current = min(p.current or 0, total)
        grid = Table.grid(padding=(0, 1))
        grid.add_row(
            for_rich(p.message or "Processing..."),
            ProgressBar(total=total, completed=current, width=40),
            Text(f"{current * 100 // total:3d}%"),
            Text(f"{current}/{p.total}"),
            Text(self._elapsed(), style="yellow"),
        )
        return grid

    def _elapsed(self) -> str:
        started = self.execution.started_at
        if started is None:
            return "-:--:--"
        end = self.execution.completed_at or datetime.now(timezone.utc)
        seconds = max(int((end - started).total_seconds()), 0)
        return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


async def _resync(docket: Docket, view: WatchView) -> bool:
    """Catch up when no event came for a while; False when the record is gone."""
    execution = view.execution
    found = await describe_record(docket, execution.key)
    if found is None:
        return False
    fresh = found[0]
    if fresh.state is not execution.state:
        view.apply(dict(fresh.state_snapshot()))
    p, q = execution.progress, fresh.progress
    if fresh.state in TERMINAL:  # its progress record may be gone already
        return True
    if (q.current or 0) != (p.current or 0) or q.message != p.message:
        view.apply(
            {
                "type": "progress",
                "current": q.current,
                "total": q.total,
                "message": q.message,
            }
        )
    return True


async def _follow(docket: Docket, view: WatchView, live: Live) -> str | None:
    events = iterate_with_timeout(view.execution.subscribe(), RESYNC_SECONDS)
    try:
        async for event in events:
            if event is not None:
                view.apply(dict(event))
            elif not await _resync(docket, view):
                return "Error: the task's record is gone (expired, or execution_ttl=0)"
            live.refresh()
            if view.finished:
                break
    finally:
        await events.aclose()
    return None


async def _watch(
    docket_name: str, url: str, key: str, keys: list[str] | None, unsafe: bool
) -> ExecutionState | str:
    """The task's final state, or the error that ended the watch."""
    from ..docket import Docket

    async with Docket(name=docket_name, url=url, signing_keys=keys) as docket:
        found = await describe_record(docket, key, unsafe)
        if found is None:
            return (
                f"Error: no task with key {for_terminal(key)!r} in docket "
                f"{for_terminal(docket_name)!r} (never added, or its record expired)"
            )
        view = WatchView(docket_name, *found)
        if view.finished:  # printed once, unwrapped: the key stays whole
            console.print(view.render(), soft_wrap=True)
            return view.execution.state
        with Live(
            get_renderable=view.render, console=console, refresh_per_second=4
        ) as live:
            problem = await _follow(docket, view, live)
        return problem or view.execution.state


# Exit codes: 0 completed, 1 could not follow it (unknown key, record gone,
# Redis unreachable), 2 bad input, 3 the task failed, 4 it was cancelled.
EXIT_CODES = {
    ExecutionState.COMPLETED: 0,
    ExecutionState.FAILED: 3,
    ExecutionState.CANCELLED: 4,
}


@app.command()
def watch(
    key: Annotated[str, typer.Argument(help="The task's key")],
    url: WatchUrl = _defaults.DOCKET_URL,
    docket_name: DocketName = _defaults.DOCKET_NAME,
    signing_keys: SigningKeysFile = None,
    unpickle: Unpickle = False,
    unsafe_show_args: UnsafeShowArgs = False,
) -> None:
    """Follow a task's state and progress until it completes, fails or is cancelled.

    Its arguments are shown when they verify against the signing keys; without
    keys only with --unpickle. Exits 0 when the task completed, 3 when it
    failed, 4 when it was cancelled, 1 when it cannot be followed (unknown
    key, record gone, Redis unreachable)."""
    keys = keys_of(signing_keys)
    unsafe = unpickle or unsafe_show_args
    outcome = run(_watch(docket_name, url, key, keys, unsafe), url)
    if isinstance(outcome, str):
        raise fail(outcome)
    code = EXIT_CODES.get(outcome, 1)
    if code:
        raise typer.Exit(code)
