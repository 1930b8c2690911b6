"""The built-in tasks every docket registers: ``trace``, ``fail`` and ``sleep``.

``standard_tasks`` is the default ``--tasks`` collection of ``docket worker``
(``docket.tasks:standard_tasks``). The other names are here because pydocket
has them here too.
"""

from __future__ import annotations

from ._tasks import fail, sleep, standard_tasks, trace
from .dependencies import (
    CurrentDocket,
    CurrentExecution,
    CurrentWorker,
    Retry,
    TaskLogger,
)
from .docket import Docket, TaskCollection
from .execution import Execution
from .worker import Worker

__all__ = [
    "CurrentDocket",
    "CurrentExecution",
    "CurrentWorker",
    "Docket",
    "Execution",
    "Retry",
    "TaskCollection",
    "TaskLogger",
    "Worker",
    "fail",
    "sleep",
    "standard_tasks",
    "trace",
]
