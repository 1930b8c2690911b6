"""What a Django task's run leaves behind, in terms Docket can keep: result ids
(UUIDv7, so an id carries the moment it was enqueued), the document a
successful run returns, and ``TaskFailed``, the exception a failed run raises.

A finished Docket run keeps its state, times and result but not its
arguments, so both carry the call's arguments: ``get_result`` reports them
after the run as before it. Both hold only JSON values, so they survive either
of Docket's serializers (pickle or JSON)."""

from __future__ import annotations

import os
import time
import traceback as tracebacks
import uuid
from datetime import datetime, timezone
from typing import Any

# A failure's message and traceback are bounded (a traceback keeps its end,
# where the error is): they are stored with the run's result.
MESSAGE_LIMIT = 4_000
TRACEBACK_LIMIT = 20_000

# Marks the document a successful run returns (and its layout's version).
MARKER = "django_task"


def new_result_id() -> tuple[str, datetime]:
    """A fresh result id (a UUIDv7 string, also the Docket task key) and the
    moment it names, to the millisecond."""
    millis = time.time_ns() // 1_000_000
    random = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76 | ((random >> 62) & 0xFFF) << 64
    value |= 0b10 << 62 | (random & ((1 << 62) - 1))
    return str(uuid.UUID(int=value)), datetime.fromtimestamp(
        millis / 1000, timezone.utc
    )


def enqueued_at(result_id: str) -> datetime | None:
    """The moment a result id was made, or None for a string that is not one of
    our ids (a canonical UUIDv7)."""
    try:
        parsed = uuid.UUID(result_id)
    except (TypeError, ValueError):
        return None
    if parsed.version != 7 or str(parsed) != result_id:
        return None
    return datetime.fromtimestamp((parsed.int >> 80) / 1000, timezone.utc)


def class_path(error: BaseException) -> str:
    kind = type(error)
    return f"{kind.__module__}.{kind.__qualname__}"


def _bounded_traceback(error: BaseException) -> str:
    text = "".join(tracebacks.format_exception(type(error), error, error.__traceback__))
    return text if len(text) <= TRACEBACK_LIMIT else "...\n" + text[-TRACEBACK_LIMIT:]


class TaskFailed(Exception):
    """A Django task raised ``exception_class_path``: the Docket run fails with
    this (chained from the task's own exception), and ``get_result`` reads the
    class path, traceback and the call's arguments back from it."""

    def __init__(
        self,
        exception_class_path: str,
        message: str,
        traceback: str,
        call_args: list[Any],
        call_kwargs: dict[str, Any],
    ) -> None:
        super().__init__(
            exception_class_path, message, traceback, call_args, call_kwargs
        )

    @classmethod
    def of(
        cls, error: BaseException, call_args: list[Any], call_kwargs: dict[str, Any]
    ) -> TaskFailed:
        message = str(error)
        if len(message) > MESSAGE_LIMIT:
            message = message[:MESSAGE_LIMIT] + "..."
        return cls(
            class_path(error),
            message,
            _bounded_traceback(error),
            list(call_args),
            dict(call_kwargs),
        )

    @property
    def exception_class_path(self) -> str:
        return str(self.args[0])

    @property
    def message(self) -> str:
        return str(self.args[1])

    @property
    def traceback(self) -> str:
        return str(self.args[2])

    @property
    def call_args(self) -> list[Any]:
        value = self.args[3]
        return list(value) if isinstance(value, (list, tuple)) else []

    @property
    def call_kwargs(self) -> dict[str, Any]:
        value = self.args[4]
        return dict(value) if isinstance(value, dict) else {}

    def __str__(self) -> str:
        if len(self.args) < 2:
            return super().__str__()
        message = self.message
        return (
            f"{self.exception_class_path}: {message}"
            if message
            else self.exception_class_path
        )


class TaskStruck(Exception):
    """A strike rule of the docket refused the task: it was not enqueued."""


def success_document(
    return_value: Any, call_args: list[Any], call_kwargs: dict[str, Any]
) -> dict[str, Any]:
    """What a successful run returns to Docket (its stored result)."""
    return {
        MARKER: 1,
        "return_value": return_value,
        "args": list(call_args),
        "kwargs": dict(call_kwargs),
    }


def is_success_document(value: Any) -> bool:
    return (
        isinstance(value, dict) and value.get(MARKER) == 1 and "return_value" in value
    )


__all__ = [
    "TaskFailed",
    "TaskStruck",
    "class_path",
    "enqueued_at",
    "is_success_document",
    "new_result_id",
    "success_document",
]
