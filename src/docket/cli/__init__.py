"""The ``docket`` command line (Typer): one module per command.

Shared options and parsers live in ``_options``; each command module attaches
itself to ``app`` when imported here. As in pydocket, the package exposes the
command functions themselves (``docket.cli.worker`` mirrors ``Worker.run``), the
``Docket`` and ``Worker`` classes the commands use, and ``iterate_with_timeout``.
"""

from __future__ import annotations

from rich.console import Console

from .._defaults import default_worker_name
from ..docket import Docket, DocketSnapshot, WorkerInfo
from ..execution import ExecutionState
from ..strikelist import Operator
from ..worker import MESSAGE_BATCH, Worker
from . import clear as _clear
from . import control as _control
from . import dashboard as _dashboard
from . import dead as _dead
from . import failed as _failed
from . import fair_share as _fair_share
from . import pausing as _pausing
from . import send_signal as _send_signal
from . import show as _show
from . import snapshot as _snapshot
from . import strike as _strike
from . import strike_list as _strike_list
from . import tasks as tasks
from . import version as _version
from . import watch as _watch
from . import worker as _worker
from . import workers as workers
from ._app import app, tasks_app, workers_app
from ._common import iterate_with_timeout
from ._options import (
    LogFormat,
    LogLevel,
    duration,
    set_logging_format,
    set_logging_level,
    validate_url,
)
from .snapshot import relative_time
from .strike import handle_strike_wildcard, interpret_python_value

# The command functions, under the names pydocket gives them (the modules that
# define them stay importable as ``docket.cli.<module>``).
clear = _clear.clear
snapshot = _snapshot.snapshot
strike = _strike.strike
restore = _strike.restore
version = _version.version
watch = _watch.watch
worker = _worker.worker
list_workers = workers.list_workers
workers_for_task = workers.workers_for_task
trace = tasks.trace
fail = tasks.fail
sleep = tasks.sleep
# Commands of ours the reference does not have attach themselves on import.
_COMMAND_MODULES = (
    _control,
    _dashboard,
    _dead,
    _failed,
    _fair_share,
    _pausing,
    _send_signal,
    _show,
    _strike_list,
)


def main() -> None:
    """The console script ``docket``."""
    app()


__all__ = [
    "MESSAGE_BATCH",
    "Console",
    "Docket",
    "DocketSnapshot",
    "ExecutionState",
    "LogFormat",
    "LogLevel",
    "Operator",
    "Worker",
    "WorkerInfo",
    "app",
    "clear",
    "default_worker_name",
    "fail",
    "sleep",
    "tasks_app",
    "trace",
    "workers_app",
    "duration",
    "handle_strike_wildcard",
    "interpret_python_value",
    "iterate_with_timeout",
    "list_workers",
    "main",
    "relative_time",
    "restore",
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
    "workers_for_task",
]
