"""Inspection values: DocketSnapshot, RunningExecution and WorkerInfo."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from .. import _clock
from .._broker import Broker
from .._broker.fair import FairDepth
from .._broker.mailbox import Received
from .._broker.snapshot_view import DocketView
from .._broker.steps import Suspension
from .._codec.message import identity
from .._handles import DocketHandle, TaskFunction
from ..execution import Execution, ExecutionState


@dataclass
class WorkerInfo:
    name: str
    last_seen: datetime
    tasks: set[str]


class RunningExecution(Execution):
    """An execution a worker holds right now, with who and since when.

    Built from the execution it wraps, which it copies whole (arguments, key,
    generation, state, timestamps, message id)."""

    worker: str | None
    started: datetime

    def __init__(self, execution: Execution, worker: str, started: datetime) -> None:
        vars(self).update(vars(execution))
        self.worker = worker
        self.started = started


@dataclass
class DocketSnapshot:
    taken: datetime
    total_tasks: int
    future: Sequence[Execution]
    running: Sequence[RunningExecution]
    workers: Collection[WorkerInfo]
    # Tasks added with after= still waiting for their parents (not in total_tasks):
    # how many, and the first of them (state WAITING).
    waiting_tasks: int = 0
    waiting: Sequence[Execution] = field(default_factory=list[Execution])
    # Suspend: the tasks among these whose run is suspended, by key: what each
    # waits for (a time, or a signal) and since when.
    suspended: dict[str, Suspension] = field(default_factory=dict[str, Suspension])
    # Due tasks waiting to start per priority, highest first; {} unless more than
    # one priority is present (docs/priorities-and-fairness.md).
    by_priority: dict[int, int] = field(default_factory=dict[int, int])
    # Signal / Suspend.for_signal: the signals the waiting tasks above still wait
    # for, by key (each its name, since when and its timeout).
    signals: dict[str, list[Received]] = field(
        default_factory=dict[str, list[Received]]
    )
    # FairShare backlogs (not in total_tasks): per task, each value with tasks
    # waiting, its count and weight, deepest first (Docket.fair_share_backlogs).
    fair_share: dict[str, list[FairDepth]] = field(
        default_factory=dict[str, list[FairDepth]]
    )


Unknown = Callable[[str], TaskFunction] | None


def _function(
    docket: DocketHandle, fields: dict[bytes, bytes], unknown: Unknown
) -> TaskFunction:
    name = identity(fields)[1]
    function = docket.tasks.get(name)
    if function is not None:
        return function
    if unknown is not None:
        return unknown(name)
    raise ValueError(
        f"Task function {name!r} is not registered with the current docket"
    )


def build_snapshot(
    docket: DocketHandle,
    view: DocketView,
    workers: Collection[WorkerInfo],
    unknown: Unknown = None,
) -> DocketSnapshot:
    """The snapshot of what ``view`` shows (``view`` comes from ``broker.views.snapshot()``).

    A task name this process has not registered raises ``ValueError``, unless
    ``unknown(name)`` supplies a stand-in function (the CLI shows it by name)."""
    taken = _clock.utcnow()
    running: list[RunningExecution] = []
    future: list[Execution] = []
    for message_id, fields in view.stream:
        holder = view.pending.get(message_id)
        if holder is None:
            continue
        execution = Execution.from_fields(
            docket, fields, _function(docket, fields, unknown)
        )
        started = taken - timedelta(milliseconds=holder.idle_ms)
        running.append(RunningExecution(execution, holder.consumer, started))
    # Due tasks in the order workers start them (priority lanes around the
    # stream's unread messages), then the future ones.
    for fields in [*view.due_in_start_order(), *view.parked]:
        function = _function(docket, fields, unknown)
        future.append(Execution.from_fields(docket, fields, function))
    total = view.stream_length + view.queue_length
    waiting: list[Execution] = []
    for fields in view.waiting:
        execution = Execution.from_fields(
            docket, fields, _function(docket, fields, unknown)
        )
        execution.state = ExecutionState.WAITING
        waiting.append(execution)
    snapshot = DocketSnapshot(
        taken, total, future, running, workers, view.waiting_length, waiting
    )
    snapshot.by_priority = view.by_priority()
    for key, wait in view.signals:
        snapshot.signals.setdefault(key, []).append(wait)
    return snapshot


def suspended_among(
    snapshot: DocketSnapshot, points: Mapping[str, Suspension]
) -> dict[str, Suspension]:
    """The future and waiting tasks of ``snapshot`` whose run waits on its latest
    suspension point (``points``, by key: ``broker.steps.latest``)."""
    now = snapshot.taken
    found: dict[str, Suspension] = {}
    for execution in [*snapshot.future, *snapshot.waiting]:
        point = points.get(execution.key)
        if execution.state is ExecutionState.WAITING:
            state = "waiting"
        else:
            state = "queued" if execution.when <= now else "scheduled"
        if point is not None and point.applies(state, execution.when.timestamp()):
            found[execution.key] = point
    return found


def worker_infos(rows: list[tuple[str, float, set[str]]]) -> list[WorkerInfo]:
    return [
        WorkerInfo(name, datetime.fromtimestamp(seen, timezone.utc), tasks)
        for name, seen, tasks in rows
    ]


__all__ = [
    "DocketSnapshot",
    "RunningExecution",
    "WorkerInfo",
    "build_snapshot",
    "suspended_among",
    "worker_infos",
]


class WorkerRoster:
    """Who works on a docket (mixed into ``Docket``): the workers whose last
    heartbeat is within the liveness horizon, all of them or a task's."""

    heartbeat_interval: timedelta
    missed_heartbeats: int

    @property
    def broker(self) -> Broker:
        raise NotImplementedError

    @property
    def liveness_horizon(self) -> float:
        """Seconds without a heartbeat after which a worker counts as gone."""
        return self.heartbeat_interval.total_seconds() * self.missed_heartbeats

    async def workers(self) -> Collection[WorkerInfo]:
        return worker_infos(await self.broker.workers.list(self.liveness_horizon))

    async def task_workers(self, task_name: str) -> Collection[WorkerInfo]:
        rows = await self.broker.workers.list(self.liveness_horizon, task_name)
        return worker_infos(rows)
