"""What an isolated task body sees in place of the worker's dependency values.

The worker resolves a task's dependencies; the values that only make sense
there (a ``Progress`` writing to Redis, a ``Timeout`` the worker enforces, a
``TaskLogger``) cross to the child as these stand-ins, which send what the body
does with them back over the child's pipe. The worker applies it (see
``calls.py``).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Any

from . import wire

# The child's one channel to its worker (set when the child starts).
_channel: Channel | None = None


class Channel:
    """The child's end of the pipe to its worker; any thread may send."""

    def __init__(self, fd: int) -> None:
        global _channel
        self.fd = fd
        self.lock = threading.Lock()
        self.codec = wire.pipe_codec(None, "")
        _channel = self

    def send(self, data: bytes) -> None:
        with self.lock:
            wire.write_all(self.fd, data)

    def log_handler(self) -> logging.Handler:
        return _Forward(self)


def _send(kind: bytes, value: Any) -> None:
    if _channel is not None:
        _channel.send(wire.as_json(kind, value))


_KEPT = (
    "name",
    "levelno",
    "levelname",
    "pathname",
    "filename",
    "module",
    "lineno",
    "funcName",
    "created",
    "msecs",
    "thread",
    "threadName",
    "processName",
    "process",
)


class _Forward(logging.Handler):
    """Sends every record to the worker, which hands it to its own logging."""

    def __init__(self, channel: Channel) -> None:
        super().__init__()
        self.channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = {name: getattr(record, name, None) for name in _KEPT}
            fields["msg"] = record.getMessage()
            if record.exc_info:
                fields["exc_text"] = logging.Formatter().formatException(
                    record.exc_info
                )
            elif record.exc_text:
                fields["exc_text"] = record.exc_text
            for name, value in record.__dict__.items():
                if name.startswith("docket.") and isinstance(value, str | int | float):
                    fields[name] = value
            self.channel.send(wire.as_json(wire.LOG, fields))
        except Exception:  # pragma: no cover - logging must never fail a task
            self.handleError(record)


class ChildProgress:
    """``Progress`` inside an isolated child: keeps the local values and sends
    each update to the worker, which writes it to Redis."""

    def __init__(self, current: int | None, total: int, message: str | None) -> None:
        self.current = current
        self.total = total
        self.message = message

    async def set_total(self, total: int) -> None:
        if total < 1:
            raise ValueError("Total must be at least 1")
        self.total = total
        if self.current is None:
            self.current = 0
        _send(wire.PROGRESS, ["set_total", total])

    async def increment(self, amount: int = 1) -> None:
        if amount < 1:
            raise ValueError("Amount must be at least 1")
        self.current = (self.current or 0) + amount
        _send(wire.PROGRESS, ["increment", amount])

    async def set_message(self, message: str | None) -> None:
        self.message = message
        _send(wire.PROGRESS, ["set_message", message])


class ChildTimeout:
    """``Timeout`` inside an isolated child: reads the deadline the worker holds
    (the monotonic clock is the machine's), and ``extend`` moves it there too."""

    def __init__(self, base: timedelta, deadline: float) -> None:
        self.base = base
        self._deadline = deadline

    def remaining(self) -> timedelta:
        return timedelta(seconds=max(0.0, self._deadline - time.monotonic()))

    def expired(self) -> bool:
        return time.monotonic() >= self._deadline

    def extend(self, by: timedelta | None = None) -> None:
        if by is None:
            by = self.base
        self._deadline += by.total_seconds()
        _send(wire.EXTEND, by.total_seconds())

    def __repr__(self) -> str:
        return f"Timeout({self.base!r})"


def child_logger(name: str, extra: dict[str, Any]) -> logging.LoggerAdapter[Any]:
    """A ``TaskLogger`` inside the child: the same logger name and fields."""
    return logging.LoggerAdapter(logging.getLogger(name), extra)


class ChildLogger:
    """A picklable recipe for ``child_logger`` (a LoggerAdapter holds a logger)."""

    def __init__(self, name: str, extra: dict[str, Any]) -> None:
        self.name = name
        self.extra = extra

    def __reduce__(self) -> tuple[Any, ...]:
        return (child_logger, (self.name, self.extra))
