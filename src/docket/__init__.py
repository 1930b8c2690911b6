"""Docket: a distributed background task system for Python functions on Redis streams."""

from importlib.metadata import PackageNotFoundError, version

from . import testing
from ._errors import DocketError, FairShareFull, QueueFull
from .agenda import Agenda
from .annotations import FairShare, Logged
from .dependencies import (
    CallArgument,
    Checkpoint,
    ConcurrencyLimit,
    Cooldown,
    Cron,
    CurrentDocket,
    CurrentExecution,
    CurrentWorker,
    CycleError,
    Debounce,
    Depends,
    ExponentialRetry,
    Isolated,
    MaxQueued,
    Parents,
    Perpetual,
    Priority,
    Progress,
    RateLimit,
    Retry,
    Shared,
    Signal,
    SignalTimeout,
    Suspend,
    TaskArgument,
    TaskKey,
    TaskLogger,
    Timeout,
)
from .docket import Docket
from .execution import (
    Disposition,
    Execution,
    ExecutionCancelled,
    ExecutionState,
    TaskCall,
    UnknownParent,
)
from .strikelist import StrikeList
from .worker import Worker

# The pydocket API level this package implements: code that compares
# ``docket.__version__`` to decide what it may call takes the branch written for
# that release. Our own release is ``__implementation_version__``.
__version__ = "0.27.2"
try:
    __implementation_version__ = version("docket")
except PackageNotFoundError:  # pragma: no cover (running from a source tree)
    __implementation_version__ = "0.0.0"

__all__ = [
    "Agenda",
    "CallArgument",
    "Checkpoint",
    "ConcurrencyLimit",
    "Cooldown",
    "Cron",
    "CurrentDocket",
    "CurrentExecution",
    "CurrentWorker",
    "CycleError",
    "Debounce",
    "Depends",
    "Disposition",
    "Docket",
    "DocketError",
    "Execution",
    "ExecutionCancelled",
    "ExecutionState",
    "ExponentialRetry",
    "FairShare",
    "FairShareFull",
    "Isolated",
    "Logged",
    "MaxQueued",
    "Parents",
    "Perpetual",
    "Priority",
    "Progress",
    "QueueFull",
    "RateLimit",
    "Retry",
    "Shared",
    "Signal",
    "SignalTimeout",
    "StrikeList",
    "Suspend",
    "TaskArgument",
    "TaskCall",
    "TaskKey",
    "TaskLogger",
    "Timeout",
    "UnknownParent",
    "Worker",
    "__version__",
    "testing",
]
