"""The ``docket`` command line (Typer): one module per command.

Shared options and parsers live in ``_options``; each command module attaches
itself to ``app`` when imported here.
"""

from __future__ import annotations

from . import (
    clear,
    control,
    dashboard,
    dead,
    failed,
    snapshot,
    strike,
    tasks,
    version,
    watch,
    worker,
    workers,
)
from ._app import app
from ._options import (
    duration,
    set_logging_format,
    set_logging_level,
    validate_url,
)
from .snapshot import relative_time
from .strike import handle_strike_wildcard, interpret_python_value


def main() -> None:
    """The console script ``docket``."""
    app()


__all__ = [
    "app",
    "clear",
    "control",
    "dashboard",
    "dead",
    "failed",
    "duration",
    "handle_strike_wildcard",
    "interpret_python_value",
    "main",
    "relative_time",
    "set_logging_format",
    "set_logging_level",
    "snapshot",
    "strike",
    "tasks",
    "validate_url",
    "version",
    "watch",
    "worker",
    "workers",
]
