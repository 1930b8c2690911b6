"""Rows of the task tables, decoded from stored messages without unpickling
(arguments only when they verify, or with ``unpickle`` on a docket without keys)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from .._broker.listing import Listed
from .._codec import Codec
from .._codec.message import (
    DEFAULT_PRIORITY,
    MalformedMessage,
    decode_message,
    identity,
)
from .._console.entries import describe_arguments


@dataclass
class TaskRow:
    key: str
    task: str
    when: str | None
    attempt: int | None
    arguments: str
    stream_id: str | None = None
    worker: str | None = None
    running_for: float | None = None  # seconds since the message was last claimed
    started_at: str | None = None  # when the current attempt started (running)
    current: int | None = None
    total: int | None = None
    message: str | None = None
    problem: str | None = None  # why the stored message could not be read
    score: float | None = None  # a future task's due time (epoch seconds)
    priority: int = DEFAULT_PRIORITY  # 1 (lowest) .. 9 (highest)

    @property
    def percent(self) -> int | None:
        if self.current is None or not self.total:
            return None
        return max(0, min(100, round(100 * self.current / self.total)))

    def as_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["percent"] = self.percent
        return document


def task_row(listed: Listed, unpickle: bool, codec: Codec) -> TaskRow:
    fields = listed.fields
    try:
        message = decode_message(fields)
    except MalformedMessage as error:
        key, function, _ = identity(fields)
        return TaskRow(
            key, function, None, None, "", listed.stream_id, problem=str(error)
        )
    when = message.when
    if listed.score is not None:
        when = datetime.fromtimestamp(listed.score, timezone.utc)
    return TaskRow(
        key=message.key,
        task=message.function,
        when=when.isoformat(),
        attempt=message.attempt,
        arguments=describe_arguments(codec, message, unpickle),
        stream_id=listed.stream_id,
        worker=listed.consumer,
        running_for=None if listed.idle_ms is None else listed.idle_ms / 1000,
        score=listed.score,
        priority=message.priority,
    )


def with_progress(row: TaskRow, progress: dict[bytes, bytes]) -> TaskRow:
    def number(name: bytes) -> int | None:
        try:
            return int(progress[name])
        except (KeyError, ValueError):
            return None

    row.current, row.total = number(b"current"), number(b"total")
    message = progress.get(b"message")
    row.message = message.decode(errors="replace") if message else None
    return row
