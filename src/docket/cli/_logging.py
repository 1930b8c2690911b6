"""Log output for the CLI: rich, plain or JSON, with task context and no secrets.

``configure_logging`` installs one handler on the root logger. Every record it
writes passes through two safeguards:

* a filter that fills in ``docket.name``, ``docket.worker``, ``docket.task`` and
  ``docket.key`` from the running task's context when the record lacks them, so
  that even a task's own ``logging.getLogger(__name__)`` lines say which task
  wrote them;
* a formatter wrapper that masks the password of any URL in the final text
  (``redis://user:secret@host`` becomes ``redis://user:***@host``).

The ``rich`` and ``plain`` formats are read by people, so ``TerminalFormatter``
escapes what a record carries before it reaches the terminal: each argument
whole (a key with a newline or an ESC prints as ``\n`` / ``\x1b``, so it cannot
forge a line or drive the terminal), the message and the traceback but their own
line breaks; in ``plain`` every continuation line is indented, so that nothing an
exception message holds can pass for a new record. ``json`` stays exact JSON.
"""

from __future__ import annotations

import copy
import logging
import re
import sys
from collections.abc import Mapping
from typing import Any, Literal

from .._text import for_lines, for_terminal

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("rich", "plain", "json")
LogFormat = Literal["rich", "plain", "json"]

PLAIN_FORMAT = "[%(asctime)s] %(levelname)s - %(name)s - %(message)s"
PLAIN_DATEFMT = "%Y-%m-%d %H:%M:%S"
JSON_FIELDS = "%(name)s %(asctime)s %(levelname)s %(message)s %(exc_info)s"

# scheme://[user]:password@ -> scheme://[user]:***@
_URL_SECRET = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'\"]*:)[^\s@/'\"]+@")
# ?sentinel_password=... or &password=... -> ...=***
_QUERY_SECRET = re.compile(r"([?&][A-Za-z_]*password=)[^&\s'\"]+", re.IGNORECASE)


def redact_secrets(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    if "@" in text:
        text = _URL_SECRET.sub(r"\1***@", text)
    if "password=" in text.lower():
        text = _QUERY_SECRET.sub(r"\1***", text)
    return text


class TaskContextFilter(logging.Filter):
    """Adds the current task's docket, worker, task name and key to a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        from ..dependencies import current_execution, current_worker

        execution = current_execution.get(None)
        worker = current_worker.get(None)
        fields: dict[str, Any] = {}
        if worker is not None:
            fields.update(worker.labels())
        if execution is not None:
            fields.setdefault("docket.name", execution.docket.name)
            fields["docket.task"] = execution.function_name
            fields["docket.key"] = execution.key
        for name, value in fields.items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class RedactingFormatter(logging.Formatter):
    """Formats with ``inner``, then masks URL passwords in the result."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return redact_secrets(self.inner.format(record))


class _Shown:
    """A log argument as a terminal may show it (``%s``, ``%r`` and ``{}``)."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __str__(self) -> str:
        return for_terminal(str(self.value))

    def __repr__(self) -> str:
        return for_terminal(repr(self.value))

    def __format__(self, spec: str) -> str:
        return for_terminal(format(self.value, spec))


def _shown(value: object) -> object:
    return value if isinstance(value, (int, float)) else _Shown(value)


CONTINUATION = "    "  # the indent of a plain record's further lines


class TerminalFormatter(logging.Formatter):
    """Formats a record for a terminal: arguments escaped whole, the message,
    traceback and stack escaped but their line breaks; with ``indent``, every
    line after the first starts with it."""

    def __init__(self, fmt: str, datefmt: str | None = None, indent: str = "") -> None:
        super().__init__(fmt, datefmt=datefmt)
        self.indent = indent

    def format(self, record: logging.LogRecord) -> str:
        safe = copy.copy(record)
        safe.msg, safe.args = self._message(record), None
        if record.exc_text:
            safe.exc_text = for_lines(record.exc_text)
        text = super().format(safe)
        return text.replace("\n", "\n" + self.indent) if self.indent else text

    @staticmethod
    def _message(record: logging.LogRecord) -> str:
        template = for_lines(str(record.msg))
        arguments = record.args
        if not arguments:
            return template
        if isinstance(arguments, Mapping):
            shown: Any = {name: _shown(v) for name, v in arguments.items()}
        else:
            shown = tuple(_shown(value) for value in arguments)
        try:
            return template % shown
        except (TypeError, ValueError, KeyError):  # a format only the raw values fit
            return for_lines(record.getMessage())

    def formatException(self, ei: Any) -> str:
        return for_lines(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return for_lines(super().formatStack(stack_info))


def _formatter(log_format: LogFormat) -> logging.Formatter:
    if log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        return JsonFormatter(JSON_FIELDS, json_ensure_ascii=False)
    if log_format == "rich":  # the handler lays out further lines itself
        return TerminalFormatter("%(message)s")
    return TerminalFormatter(PLAIN_FORMAT, PLAIN_DATEFMT, indent=CONTINUATION)


def _handler(log_format: LogFormat) -> logging.Handler:
    if log_format == "rich":
        from rich.console import Console
        from rich.logging import RichHandler

        return RichHandler(
            console=Console(file=sys.stdout),
            show_path=False,
            log_time_format="[%X]",
            rich_tracebacks=False,  # tracebacks go through the redacting formatter
            markup=False,
        )
    return logging.StreamHandler(sys.stdout)


def default_format() -> LogFormat:
    """``rich`` on a terminal, ``plain`` otherwise."""
    return "rich" if sys.stdout.isatty() else "plain"


def normalise_level(level: str) -> str:
    """The level name in upper case; ValueError when it is not a level."""
    upper = level.strip().upper()
    if upper not in LOG_LEVELS:
        raise ValueError(
            f"{level!r} is not a log level; use one of {', '.join(LOG_LEVELS)} "
            "(any case)"
        )
    return upper


def normalise_format(log_format: str) -> LogFormat:
    lower = log_format.strip().lower()
    if lower not in LOG_FORMATS:
        raise ValueError(
            f"{log_format!r} is not a log format; use one of {', '.join(LOG_FORMATS)}"
        )
    return lower  # type: ignore[return-value]


_installed: list[logging.Handler] = []


def configure_logging(level: str = "INFO", log_format: str | None = None) -> None:
    """Install docket's root handler (replacing one installed earlier)."""
    chosen = normalise_format(log_format) if log_format else default_format()
    root = logging.getLogger()
    for handler in _installed:
        root.removeHandler(handler)
    _installed.clear()
    handler = _handler(chosen)
    handler.setFormatter(RedactingFormatter(_formatter(chosen)))
    handler.addFilter(TaskContextFilter())
    root.addHandler(handler)
    _installed.append(handler)
    root.setLevel(normalise_level(level))


__all__ = [
    "LOG_FORMATS",
    "LOG_LEVELS",
    "RedactingFormatter",
    "TaskContextFilter",
    "TerminalFormatter",
    "configure_logging",
    "default_format",
    "normalise_format",
    "normalise_level",
    "redact_secrets",
]
