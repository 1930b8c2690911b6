"""The attempts of one run, as its run record keeps them.

A record holds the current attempt in its own fields (``attempt``, ``worker``,
``started_at``, ``completed_at``, ``state``, ``error``, ``traceback``) and every
earlier attempt of a run that was retried as ``history:<n>``: a JSON note written
by schedule.lua when a failure handler reschedules the run (the last
``HISTORY_KEPT`` attempts). Nothing here talks to Redis.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .. import _codec
from .types import AttemptNote, RunRecord

NOTE_TRACEBACK = 8_000  # characters of a retried attempt's traceback kept (its end)


def failed_attempt_note(
    attempt: int,
    worker: str | None,
    started_at: datetime | None,
    error: BaseException,
) -> AttemptNote:
    """The history note of an attempt that failed just now."""
    error_type, message, trace = _codec.exception_parts(error)
    if len(trace) > NOTE_TRACEBACK:
        trace = "...\n" + trace[-NOTE_TRACEBACK:]
    document = {
        "attempt": attempt,
        "worker": worker or "",
        "started_at": _codec.iso(started_at) if started_at else "",
        "ended_at": _codec.iso(_codec.now()),
        "outcome": "retried",
        "error_type": error_type,
        "message": message,
        "traceback": trace,
    }
    return AttemptNote(attempt, json.dumps(document))


@dataclass(frozen=True)
class Attempt:
    """One attempt of a run: where and when it ran, and how it ended (``outcome``
    None while it runs or waits)."""

    number: int
    worker: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: str | None = None
    error: str | None = None
    traceback: str | None = None
    redelivered: bool = False

    @property
    def seconds(self) -> float | None:
        """How long it ran (None unless it started and ended)."""
        if self.started_at is None or self.ended_at is None:
            return None
        return max((self.ended_at - self.started_at).total_seconds(), 0.0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "attempt": self.number,
            "worker": self.worker,
            "started_at": _codec.iso(self.started_at) if self.started_at else None,
            "ended_at": _codec.iso(self.ended_at) if self.ended_at else None,
            "seconds": self.seconds,
            "outcome": self.outcome,
            "error": self.error,
            "traceback": self.traceback,
            "redelivered": self.redelivered,
        }


def _moment(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return _codec.from_iso(text)
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _from_note(number: int, text: str) -> Attempt:
    try:
        note = json.loads(text)
    except ValueError:
        note = None
    if not isinstance(note, dict):
        return Attempt(number, outcome="retried", error="<unreadable history note>")
    fields: dict[str, Any] = note  # pyright: ignore[reportUnknownVariableType]
    error_type, message = _text(fields.get("error_type")), _text(fields.get("message"))
    error = f"{error_type}: {message}" if error_type and message else error_type
    return Attempt(
        number,
        worker=_text(fields.get("worker")),
        started_at=_moment(fields.get("started_at")),
        ended_at=_moment(fields.get("ended_at")),
        outcome=_text(fields.get("outcome")) or "retried",
        error=error,
        traceback=_text(fields.get("traceback")),
    )


FINISHED = ("completed", "failed", "cancelled")


def attempts(record: RunRecord) -> list[Attempt]:
    """Every attempt the record remembers, oldest first: the retried ones from
    its history, then the current one (when it has started or finished)."""
    found = [_from_note(n, text) for n, text in sorted(record.history.items())]
    number = _number(record.attempt)
    current = Attempt(
        number,
        worker=record.worker,
        started_at=_moment(record.started_at),
        ended_at=_moment(record.completed_at) if record.state in FINISHED else None,
        outcome=record.state if record.state in FINISHED else None,
        error=record.error,
        traceback=record.traceback,
        redelivered=record.redelivered,
    )
    if record.state == "running" or current.started_at:
        found = [a for a in found if a.number != number] + [current]
    return found


def _number(text: str | None) -> int:
    try:
        return max(int(text or 1), 1)
    except ValueError:
        return 1


__all__ = ["Attempt", "attempts", "failed_attempt_note"]
