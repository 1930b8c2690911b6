"""What the operator's console reads: failed tasks, dead letters, throughput.

Payloads stay as they were stored (pickled bytes). Nothing here unpickles them
unless they verify against the docket's signing keys, or, on a docket without
keys, when asked to with ``unpickle=True``: unpickling runs code chosen by
whoever wrote the bytes, so a console shows a placeholder by default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .. import _codec
from .._codec import Codec
from .._codec.message import (
    DEFAULT_PRIORITY,
    HIGHEST_PRIORITY,
    LOWEST_PRIORITY,
    MalformedMessage,
    TaskMessage,
    decode_message,
)
from .describe import arguments_text

_SIGNED = ("serializer", "signature", "message_when", "message_attempt")


def _text(fields: dict[str, bytes], name: str) -> str:
    return fields.get(name, b"").decode(errors="replace")


def _priority(fields: dict[str, bytes]) -> bytes | None:
    """The entry's priority when it is one a task may carry other than 5 (a
    replay keeps it); None for 5, none, or anything else."""
    raw = fields.get("priority", b"")
    level = int(raw) if raw.isdigit() else DEFAULT_PRIORITY
    if level == DEFAULT_PRIORITY or not LOWEST_PRIORITY <= level <= HIGHEST_PRIORITY:
        return None
    return str(level).encode()


def _int(fields: dict[str, bytes], name: str, default: int = 0) -> int:
    try:
        return int(fields.get(name, b""))
    except ValueError:
        return default


def _moment(text: str) -> datetime | None:
    try:
        return _codec.from_iso(text)
    except ValueError:
        return None


def _epoch(text: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(text), timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None


def entry_time(entry_id: str) -> datetime:
    """When a failed entry was written (its stream id holds the milliseconds)."""
    milliseconds = int(entry_id.split("-", 1)[0])
    return datetime.fromtimestamp(milliseconds / 1000, timezone.utc)


def placeholder(payload: bytes) -> str:
    return f"<pickled, {len(payload)} bytes>"


def describe_arguments(
    codec: Codec, message: TaskMessage | None, unpickle: bool = False
) -> str:
    """``(1, 'a', x=2)`` when the payloads verify against the codec's keys, or,
    without keys, when ``unpickle``; else placeholders (``<unverified: ...>``
    for payloads that fail verification). Never raises."""
    if message is None:
        return "<unreadable: the failed entry is not a task message>"
    hidden = f"args {placeholder(message.args)}, kwargs {placeholder(message.kwargs)}"
    return arguments_text(codec, message, unpickle, hidden)[0]


@dataclass(frozen=True)
class FailedTask:
    """One failed task (``P:failed``)."""

    id: str
    key: str
    function: str
    args: bytes = field(repr=False)
    kwargs: bytes = field(repr=False)
    when: datetime | None
    error_type: str
    message: str
    traceback: str = field(repr=False)
    attempt: int
    worker: str
    started_at: datetime | None
    failed_at: datetime | None
    # What verifies the payloads: their serializer and signature, and the exact
    # 'when' and 'attempt' of the message the signature covers (when signed).
    signed: dict[str, bytes] = field(default_factory=dict[str, bytes], repr=False)
    codec: Codec = field(default_factory=Codec, repr=False, compare=False)
    # A FairShare task's value (its message's `fair` field): a replay waits in
    # that value's backlog again.
    fair: bytes | None = field(default=None, repr=False)
    # Its priority when not 5 (the run record's `priority`): a replay keeps it.
    priority: bytes | None = field(default=None, repr=False)

    @classmethod
    def decode(
        cls, entry_id: str, fields: dict[str, bytes], codec: Codec | None = None
    ) -> FailedTask:
        """A failed entry; ``codec`` (the docket's) verifies its payloads."""
        signed = {name: fields[name] for name in _SIGNED if name in fields}
        return cls(
            id=entry_id,
            key=_text(fields, "key"),
            function=_text(fields, "function"),
            args=fields.get("args", b""),
            kwargs=fields.get("kwargs", b""),
            when=_epoch(_text(fields, "when")),
            error_type=_text(fields, "error_type"),
            message=_text(fields, "message"),
            traceback=_text(fields, "traceback"),
            attempt=_int(fields, "attempt", 1),
            worker=_text(fields, "worker"),
            started_at=_moment(_text(fields, "started_at")),
            failed_at=_moment(_text(fields, "failed_at")) or entry_time(entry_id),
            signed=signed,
            codec=codec or Codec(),
            fair=fields.get("fair"),
            priority=_priority(fields),
        )

    def task_message(self) -> TaskMessage | None:
        """The failed task as the message it was (payloads still encoded), or
        None when the entry cannot make one."""
        when = self.signed.get("message_when")
        if when is None:
            moment = self.when or self.failed_at or datetime.now(timezone.utc)
            when = _codec.iso(moment).encode()
        fields = {
            b"key": self.key.encode(),
            b"function": self.function.encode(),
            b"when": when,
            b"attempt": self.signed.get("message_attempt", b"1"),
            b"args": self.args,
            b"kwargs": self.kwargs,
        }
        for name in ("serializer", "signature"):
            if name in self.signed:
                fields[name.encode()] = self.signed[name]
        try:
            return decode_message(fields)
        except MalformedMessage:
            return None

    @property
    def replayable(self) -> bool:
        """Whether the entry holds what a replay needs (a task name, payloads)."""
        return bool(self.function and self.args and self.kwargs)

    def arguments(self, unpickle: bool = False) -> str:
        return describe_arguments(self.codec, self.task_message(), unpickle)

    def as_dict(self, unpickle: bool = False, traceback: bool = True) -> dict[str, Any]:
        """The stable JSON form (``docket failed ls --json``, ``/api/failed``)."""
        document: dict[str, Any] = {
            "id": self.id,
            "key": self.key,
            "task": self.function,
            "arguments": self.arguments(unpickle),
            "args_bytes": len(self.args),
            "kwargs_bytes": len(self.kwargs),
            "when": _codec.iso(self.when) if self.when else None,
            "error_type": self.error_type,
            "message": self.message,
            "attempt": self.attempt,
            "worker": self.worker,
            "started_at": _codec.iso(self.started_at) if self.started_at else None,
            "failed_at": _codec.iso(self.failed_at) if self.failed_at else None,
        }
        if traceback:
            document["traceback"] = self.traceback
        return document


@dataclass(frozen=True)
class FailedPage:
    """A page of failed tasks, newest first; pass ``cursor`` on for the next one."""

    tasks: list[FailedTask]
    cursor: str | None


@dataclass(frozen=True)
class ThroughputMinute:
    """Counts of one minute: task name -> outcome (completed, failed, retried) -> n."""

    minute: datetime
    tasks: dict[str, dict[str, int]]

    def total(self, outcome: str) -> int:
        return sum(counts.get(outcome, 0) for counts in self.tasks.values())

    @classmethod
    def decode(cls, minute: int, raw: dict[str, int]) -> ThroughputMinute:
        tasks: dict[str, dict[str, int]] = {}
        for name, count in raw.items():
            outcome, _, task = name.partition(":")
            tasks.setdefault(task, {})[outcome] = count
        return cls(datetime.fromtimestamp(minute, timezone.utc), tasks)

    def as_dict(self) -> dict[str, Any]:
        return {
            "minute": _codec.iso(self.minute),
            "completed": self.total("completed"),
            "failed": self.total("failed"),
            "retried": self.total("retried"),
            "tasks": self.tasks,
        }


__all__ = [
    "FailedPage",
    "FailedTask",
    "ThroughputMinute",
    "describe_arguments",
    "entry_time",
    "placeholder",
]
