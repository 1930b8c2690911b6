"""What the operator's console reads: failed tasks, dead letters, throughput.

Payloads stay as they were stored (pickled bytes). Nothing here unpickles them
unless asked to with ``unpickle=True``: unpickling runs code chosen by whoever
wrote the bytes, so a console shows a placeholder by default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from . import _codec


def _text(fields: dict[str, bytes], name: str) -> str:
    return fields.get(name, b"").decode(errors="replace")


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
    """When an archive entry was written (its stream id holds the milliseconds)."""
    milliseconds = int(entry_id.split("-", 1)[0])
    return datetime.fromtimestamp(milliseconds / 1000, timezone.utc)


def placeholder(payload: bytes) -> str:
    return f"<pickled, {len(payload)} bytes>"


def describe_arguments(args: bytes, kwargs: bytes, unpickle: bool = False) -> str:
    """``(1, 'a', x=2)`` when ``unpickle`` and the payloads load, else placeholders."""
    if not unpickle:
        return f"args {placeholder(args)}, kwargs {placeholder(kwargs)}"
    try:
        loaded_args = _codec.decode_blob(_codec.PICKLE, args) if args else ()
        loaded_kwargs = _codec.decode_blob(_codec.PICKLE, kwargs) if kwargs else {}
    except Exception as error:
        return f"<could not unpickle: {_codec.error_text(error)}>"
    parts = [repr(a) for a in loaded_args]
    parts += [f"{k}={v!r}" for k, v in dict(loaded_kwargs).items()]
    return "(" + ", ".join(parts) + ")"


@dataclass(frozen=True)
class FailedTask:
    """One entry of the failed-task archive (``P:failed``)."""

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

    @classmethod
    def decode(cls, entry_id: str, fields: dict[str, bytes]) -> FailedTask:
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
        )

    @property
    def replayable(self) -> bool:
        """Whether the archive holds what a replay needs (a task name, payloads)."""
        return bool(self.function and self.args and self.kwargs)

    def arguments(self, unpickle: bool = False) -> str:
        return describe_arguments(self.args, self.kwargs, unpickle)

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
    """A page of the archive, newest first; pass ``cursor`` on for the next one."""

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
