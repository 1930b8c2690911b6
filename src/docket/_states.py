"""The states of an execution, the dispositions of a schedule, and their events.

These are plain values with no behaviour, so every layer (results, the worker,
the CLI) can use them without importing ``Execution``; ``docket.execution``
re-exports them as the public names.
"""

from __future__ import annotations

import enum
from typing import TypedDict

from ._errors import ExecutionCancelled as ExecutionCancelled
from ._errors import NoRecordToWaitOn as NoRecordToWaitOn
from ._errors import UnknownParent as UnknownParent


class ExecutionState(enum.Enum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    WAITING = "waiting"  # added with after=: waiting for its parents to end


TERMINAL = frozenset(
    {ExecutionState.COMPLETED, ExecutionState.FAILED, ExecutionState.CANCELLED}
)


class Disposition(enum.Enum):
    LOADED = "loaded"
    SCHEDULED = "scheduled"
    ALREADY_SCHEDULED = "already_scheduled"
    STRUCK = "struck"
    SUPERSEDED = "superseded"  # a schedule that found a newer generation in place
    FAILED = "failed"  # add_many/replace_many: this execution's Redis command failed


class StateEvent(TypedDict, total=False):
    type: str
    key: str
    state: ExecutionState
    when: str | None
    worker: str | None
    started_at: str | None
    completed_at: str | None
    error: str | None


__all__ = [
    "TERMINAL",
    "Disposition",
    "ExecutionCancelled",
    "UnknownParent",
    "ExecutionState",
    "StateEvent",
]
