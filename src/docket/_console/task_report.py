"""Everything known about one task key, for the dashboard's task page and
``docket show``: its state and timeline (added, due, each attempt), arguments,
result or exception, progress, and the actions that apply.

Arguments and results are decoded only when they verify against the docket's
signing keys, when they were written with the JSON serializer, or, on a docket
without keys, when the caller passed ``unsafe=True``; otherwise a placeholder
says what is there. Nothing here raises for a record it cannot read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .. import _codec
from .._broker import RunRecord
from .._broker.history import Attempt, attempts
from .._broker.steps import describe_steps
from .._codec import JSON, PICKLE
from .._codec.message import DEFAULT_PRIORITY
from .describe import GONE, HIDDEN, brief, describe_message, record_message
from .entries import FailedTask

if TYPE_CHECKING:
    from ..docket import Docket

WAITING = ("scheduled", "queued")
NOT_SHOWN = "<hidden: a pickled result (--unpickle shows it)>"


@dataclass(frozen=True)
class Progress:
    current: int | None
    total: int | None
    message: str | None

    @property
    def percent(self) -> int | None:
        if self.current is None or not self.total:
            return None
        return max(0, min(100, round(100 * self.current / self.total)))

    def as_dict(self) -> dict[str, Any]:
        return {
            "current": self.current,
            "total": self.total,
            "message": self.message,
            "percent": self.percent,
        }


@dataclass(frozen=True)
class TaskReport:
    """One key's page. ``state`` None: no run record (never added, or expired)."""

    key: str
    state: str | None
    task: str | None = None
    generation: int = 0
    added: datetime | None = None
    due: datetime | None = None
    finished: datetime | None = None
    attempts: list[Attempt] = field(default_factory=list[Attempt])
    arguments: str | None = None
    result: str | None = None
    error: str | None = None
    traceback: str | None = None
    progress: Progress | None = None
    failed_id: str | None = None  # the failed entry a replay would run
    actions: tuple[str, ...] = ()
    # Workflows: the parents it was added after (key -> the state each ended in,
    # None while still awaited) and the keys waiting for this one.
    parents: dict[str, str | None] = field(default_factory=dict[str, str | None])
    followers: list[str] = field(default_factory=list[str])
    # Suspend: what a suspended run waits for (a time, or a signal) and since when;
    # Checkpoint: the step names its run marked and the names of values it kept.
    suspended_since: datetime | None = None
    suspended_until: datetime | None = None
    suspended_signal: str | None = None
    steps: list[str] = field(default_factory=list[str])
    kept: list[str] = field(default_factory=list[str])
    # Signals: each signal the run waits for or waited for.
    signals: list[SignalState] = field(default_factory=list["SignalState"])
    # Its priority, 1 (lowest) .. 9 (highest); pages show it when it is not 5.
    priority: int = DEFAULT_PRIORITY

    @property
    def suspended(self) -> bool:
        return self.suspended_since is not None

    @property
    def awaited(self) -> int:
        """How many parents are still awaited."""
        return sum(1 for state in self.parents.values() if state is None)

    @property
    def retries(self) -> int:
        return max(len(self.attempts) - 1, 0)

    def as_dict(self) -> dict[str, Any]:
        def moment(value: datetime | None) -> str | None:
            return _codec.iso(value) if value else None

        return {
            "key": self.key,
            "state": self.state,
            "task": self.task,
            "generation": self.generation,
            "added": moment(self.added),
            "due": moment(self.due),
            "finished": moment(self.finished),
            "retries": self.retries,
            "attempts": [attempt.as_dict() for attempt in self.attempts],
            "arguments": self.arguments,
            "result": self.result,
            "error": self.error,
            "traceback": self.traceback,
            "progress": self.progress.as_dict() if self.progress else None,
            "failed_id": self.failed_id,
            "actions": list(self.actions),
            "parents": dict(self.parents),
            "followers": list(self.followers),
            "suspended": {
                "since": moment(self.suspended_since),
                "until": moment(self.suspended_until),
                "signal": self.suspended_signal,
            }
            if self.suspended
            else None,
            "steps": list(self.steps),
            "kept": list(self.kept),
            "signals": [signal.as_dict() for signal in self.signals],
            "priority": self.priority,
        }


SIGNAL_STATES = {"w": "waiting", "r": "received", "t": "timed out"}


@dataclass(frozen=True)
class SignalState:
    """One signal wait of a run: the signal's name, "waiting" / "received" /
    "timed out", since when it waited, and its timeout."""

    name: str
    state: str
    since: datetime | None
    deadline: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "signal": self.name,
            "state": self.state,
            "since": _codec.iso(self.since) if self.since else None,
            "times_out": _codec.iso(self.deadline) if self.deadline else None,
        }


def _epoch(value: float | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(value, timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None


def _moment(text: str | None) -> datetime | None:
    try:
        return _codec.from_iso(text)
    except ValueError:
        return None


def _number(fields: dict[bytes, bytes], name: bytes) -> int | None:
    try:
        return int(fields[name])
    except (KeyError, ValueError):
        return None


def _progress(fields: dict[bytes, bytes]) -> Progress | None:
    if not fields:
        return None
    message = fields.get(b"message")
    return Progress(
        _number(fields, b"current"),
        _number(fields, b"total"),
        message.decode(errors="replace") if message else None,
    )


def _arguments(
    docket: Docket,
    key: str,
    record: RunRecord,
    failed: FailedTask | None,
    unsafe: bool,
) -> str:
    fields = record_message(key, record)
    if fields is not None:
        return describe_message(docket.codec, fields, unsafe).arguments
    if failed is not None and failed.replayable:
        return failed.arguments(unsafe)
    return GONE


async def _result(
    docket: Docket, key: str, record: RunRecord, unsafe: bool
) -> str | None:
    """The text of a completed run's result (its repr), or a placeholder."""
    if record.state != "completed":
        return None
    if record.result_key is None:
        return "None"  # nothing was stored: the task returned None
    try:
        document = await docket.result_storage.get(record.result_key)
    except Exception as error:  # a result store we cannot read: say so
        return f"<unreadable: {_codec.error_text(error)}>"
    if not isinstance(document, dict) or "data" not in document:
        return "<not kept: the result expired>"
    stored: dict[str, Any] = document  # pyright: ignore[reportUnknownVariableType]
    serializer = str(stored.get("serializer") or PICKLE)
    if serializer != JSON and not docket.codec.signing and not unsafe:
        return NOT_SHOWN
    try:
        value = docket.codec.read_document(key, stored, record.generation)
    except Exception as error:  # unverified, or whatever decoding raised
        return f"<unreadable: {_codec.error_text(error)}>"
    return brief(value)


def _actions(state: str | None, failed: FailedTask | None) -> tuple[str, ...]:
    if state == "waiting":  # for its parents: only a cancel applies
        return ("cancel",)
    if state in WAITING:
        return ("run-now", "reschedule", "cancel")
    if state == "running":
        return ("cancel",)
    if state == "failed" and failed is not None and failed.replayable:
        return ("replay",)
    return ()


async def task_report(docket: Docket, key: str, unsafe: bool = False) -> TaskReport:
    """What is known of ``key`` now (two or three reads, none of them a scan
    but the failed entry's, for a failed task)."""
    broker = docket.broker
    record = await broker.runs.record(key)
    if record is None:
        return TaskReport(key, None)
    failed: FailedTask | None = None
    if record.state == "failed":
        failed = await docket.failed_tasks.get(key)
    (progress,) = await broker.views.progress_of([key])
    gate, followers = await broker.gates.get(key), await broker.gates.followers(key)
    steps = describe_steps(await broker.steps.read(key))
    latest = steps.latest
    if latest is not None and not latest.applies(record.state, record.when):
        latest = None
    error, trace = record.error, record.traceback
    if failed is not None:
        error = error or f"{failed.error_type}: {failed.message}"
        trace = trace or failed.traceback or None
    return TaskReport(
        key=key,
        state=record.state,
        task=record.function,
        generation=record.generation,
        priority=record.priority,
        added=_epoch(record.added),
        due=_epoch(record.when),
        finished=_moment(record.completed_at),
        attempts=attempts(record),
        arguments=_arguments(docket, key, record, failed, unsafe),
        result=await _result(docket, key, record, unsafe),
        error=error if record.state == "failed" else None,
        traceback=trace if record.state == "failed" else None,
        progress=_progress(progress),
        failed_id=failed.id if failed is not None else None,
        actions=_actions(record.state, failed),
        parents={} if gate is None else gate.parents,
        followers=followers,
        suspended_since=_epoch(latest.since) if latest else None,
        suspended_until=_epoch(latest.until) if latest else None,
        suspended_signal=latest.signal if latest else None,
        steps=steps.marks,
        kept=steps.values,
        signals=[
            SignalState(
                wait.name,
                SIGNAL_STATES.get(wait.mark, wait.mark),
                _epoch(wait.since),
                _epoch(wait.deadline),
            )
            for wait in (await broker.mailbox.received(key)).values()
        ],
    )


__all__ = [
    "HIDDEN",
    "NOT_SHOWN",
    "Progress",
    "SignalState",
    "TaskReport",
    "task_report",
]
