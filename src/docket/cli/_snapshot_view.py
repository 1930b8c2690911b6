"""What ``docket snapshot`` shows, read without trusting the stored messages:
arguments are decoded only as ``_console.describe.describe_message`` allows."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from .._broker.fair import FairDepth
from .._broker.steps import Suspension
from .._console.describe import Entry, describe_message
from .._console.snapshot import WorkerInfo

if TYPE_CHECKING:
    from ..docket import Docket


@dataclass(frozen=True)
class Row:
    """One task as the table shows it; ``worker`` is set for running tasks."""

    entry: Entry
    when: datetime
    worker: str | None = None
    started: datetime | None = None
    suspended: Suspension | None = None  # its run waits on this point (Suspend)

    @property
    def function(self) -> str:
        return self.entry.function

    @property
    def priority(self) -> int:
        return self.entry.priority


@dataclass(frozen=True)
class SignalWait:
    """A task waiting for a signal: its key, the signal's name, since when, and
    its timeout (None: none)."""

    key: str
    signal: str
    since: datetime | None
    deadline: datetime | None


@dataclass(frozen=True)
class View:
    taken: datetime
    total_tasks: int
    workers: Collection[WorkerInfo]
    running: list[Row]
    future: list[Row]
    waiting: int = 0  # tasks still waiting (for their parents, or a signal)
    signals: list[SignalWait] = field(default_factory=list[SignalWait])
    # FairShare backlogs: per task, each value's depth and weight (deepest first).
    fair_share: dict[str, list[FairDepth]] | None = None
    # Due tasks waiting per priority; {} unless more than one is present.
    by_priority: dict[int, int] = field(default_factory=dict[int, int])


def start_order(row: Row, now: datetime) -> tuple[int, int, datetime]:
    """Sort key of a waiting task: due ones first, in the order workers start
    them (highest priority first, then the longest due), then the future ones,
    soonest first."""
    if row.when <= now:
        return (0, -row.priority, row.when)
    return (1, 0, row.when)


def _moment(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, timezone.utc)


async def take(
    docket_name: str,
    url: str,
    tasks: list[str],
    keys: list[str] | None,
    unsafe: bool,
) -> View:
    """The docket's running and waiting tasks, and its workers."""
    from ..docket import Docket

    async with Docket(name=docket_name, url=url, signing_keys=keys) as docket:
        for path in tasks:
            docket.register_collection(path)
        view = await docket.broker.views.snapshot()
        workers = await docket.workers()
        fair_share = await docket.fair_share_backlogs()
        taken = datetime.now(timezone.utc)
        running: list[Row] = []
        future: list[Row] = []
        for message_id, fields in view.stream:
            holder = view.pending.get(message_id)
            if holder is None:
                continue
            entry = _entry(docket, fields, unsafe)
            started = taken - timedelta(milliseconds=holder.idle_ms)
            running.append(Row(entry, entry.when or taken, holder.consumer, started))
        # Due tasks in the order workers start them, then the future ones.
        for fields in [*view.due_in_start_order(), *view.parked]:
            entry = _entry(docket, fields, unsafe)
            future.append(Row(entry, entry.when or taken))
        points = await docket.broker.steps.latest([row.entry.key for row in future])
        future = [_suspended(row, points.get(row.entry.key), taken) for row in future]
    total = view.stream_length + view.queue_length
    signals = [
        SignalWait(key, wait.name, _moment(wait.since), _moment(wait.deadline))
        for key, wait in view.signals
    ]
    return View(
        taken,
        total,
        workers,
        running,
        future,
        view.waiting_length,
        signals,
        fair_share,
        view.by_priority(),
    )


def _suspended(row: Row, point: Suspension | None, now: datetime) -> Row:
    state = "queued" if row.when <= now else "scheduled"
    if point is None or not point.applies(state, row.when.timestamp()):
        return row
    return Row(row.entry, row.when, suspended=point)


def _entry(docket: Docket, fields: dict[bytes, bytes], unsafe: bool) -> Entry:
    """Tasks this command has not registered are shown by name too."""
    return describe_message(docket.codec, fields, unsafe)


__all__ = ["Row", "SignalWait", "View", "start_order", "take"]
