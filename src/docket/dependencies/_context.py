"""The per-execution context variables, and small helpers every layer shares.

The worker sets ``current_docket``, ``current_worker`` and ``current_execution``
around each execution (and ``Worker.__aenter__`` sets the first two for its
lifetime). They live here, below the dependency layer, so that the call path, the
logging filter and the dependencies can read them without importing one another;
``docket.dependencies`` re-exports them under the same names.
"""

from __future__ import annotations

from contextvars import ContextVar

from .._handles import DocketHandle, WorkerHandle
from ..execution import Execution

current_docket: ContextVar[DocketHandle] = ContextVar("current_docket")
current_worker: ContextVar[WorkerHandle] = ContextVar("current_worker")
current_execution: ContextVar[Execution] = ContextVar("current_execution")


def format_duration(seconds: float) -> str:
    """Format a duration for log lines, without the surrounding brackets.

    Under 100 seconds the value is shown in whole milliseconds, right-aligned six
    wide, followed by ``ms`` (``"     7ms"``); otherwise in whole seconds, six
    wide, followed by ``"s "`` so both forms have the same width.
    """
    if seconds < 100:
        return f"{seconds * 1000:6.0f}ms"
    return f"{seconds:6.0f}s "


__all__ = ["current_docket", "current_execution", "current_worker", "format_duration"]
