"""Dependency injection for docket tasks.

``Dependency`` is the DI engine's (``uncalled_for``) own base class. Docket adds
the contextual dependencies, the handler roles the worker drives (``Runtime``,
``FailureHandler``, ``CompletionHandler``), retries, perpetual and cron
scheduling, timeouts, progress, admission controls, and the per-execution
resolution used by the worker.
"""

from uncalled_for import (
    CallArgument,
    CycleError,
    Dependency,
    FailedDependency,
    Shared,
    SharedContext,
    get_annotation_dependencies,
    get_dependency_parameters,
)
from uncalled_for import DependencyFactory as DependencyFunction
from uncalled_for.functional import _Depends  # pyright: ignore[reportPrivateUsage]
from uncalled_for.introspection import (
    _parameter_cache,  # pyright: ignore[reportPrivateUsage]
)

from ..annotations import FairShare
from ._admission import Cooldown, RateLimit
from ._admission_concurrency import ConcurrencyLimit
from ._admission_debounce import Debounce
from ._base import (
    AdmissionBlocked,
    CompletionHandler,
    ConcurrencyBlocked,
    FailureHandler,
    ForcedRetry,
    Runtime,
    TaskOutcome,
)
from ._checkpoint import Checkpoint
from ._context import (
    current_docket,
    current_execution,
    current_worker,
    format_duration,
)
from ._contextual import (
    CurrentExecution,
    Progress,
    TaskArgument,
    TaskKey,
    TaskLogger,
)
from ._current import CurrentDocket, CurrentWorker
from ._functional import Depends
from ._isolated import Isolated
from ._parents import Parents
from ._perpetual import Cron, Perpetual
from ._priority import MaxQueued, Priority
from ._resolution import (
    ResolvedDependencies,
    get_single_dependency_of_type,
    get_single_dependency_parameter_of_type,
    has_dependencies,
    resolved_dependencies,
)
from ._retry import ExponentialRetry, Retry
from ._signal import Signal, SignalTimeout
from ._suspend import Suspend
from ._timeout import Timeout
from ._validation import single_rule_violation, validate_dependencies

__all__ = [
    "AdmissionBlocked",
    "CallArgument",
    "Checkpoint",
    "CompletionHandler",
    "ConcurrencyBlocked",
    "ConcurrencyLimit",
    "Cooldown",
    "Cron",
    "CurrentDocket",
    "CurrentExecution",
    "CurrentWorker",
    "CycleError",
    "Debounce",
    "Dependency",
    "DependencyFunction",
    "Depends",
    "Parents",
    "ExponentialRetry",
    "FailedDependency",
    "FairShare",
    "FailureHandler",
    "ForcedRetry",
    "Isolated",
    "MaxQueued",
    "Perpetual",
    "Priority",
    "Progress",
    "RateLimit",
    "ResolvedDependencies",
    "Retry",
    "Signal",
    "SignalTimeout",
    "Runtime",
    "Shared",
    "SharedContext",
    "Suspend",
    "TaskArgument",
    "TaskKey",
    "TaskLogger",
    "TaskOutcome",
    "Timeout",
    "_Depends",
    "_parameter_cache",
    "current_docket",
    "current_execution",
    "current_worker",
    "format_duration",
    "get_annotation_dependencies",
    "get_dependency_parameters",
    "get_single_dependency_of_type",
    "get_single_dependency_parameter_of_type",
    "has_dependencies",
    "resolved_dependencies",
    "single_rule_violation",
    "validate_dependencies",
]
