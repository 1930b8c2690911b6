"""The dependency base classes, the handler roles, and the outcome record.

``Dependency`` is the DI engine's own base class (``uncalled_for.Dependency``).
Everything docket adds on top of it lives here: the engine's backward-compatible
ContextVar attributes (the variables themselves live in ``docket.dependencies._context``), the
abstract handler roles the worker looks for
among the resolved values (``Runtime``, ``FailureHandler``, ``CompletionHandler``),
the outcome record handed to those handlers, and the admission-control
exceptions.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar, TypeVar

from uncalled_for import Dependency

from ..execution import Execution
from ._context import current_docket, current_execution, current_worker

logger = logging.getLogger("docket.dependencies")
# The lines about a run (retried, perpetuated, superseded) go where the worker
# writes that run's other lines, so one logger name tells a task's whole story.
run_logger = logging.getLogger("docket.worker")

# What a handler role's dependency value is, for ``Runtime[T]`` and friends.
T = TypeVar("T", covariant=True)

# Backward-compatibility shim: older custom dependencies read
# ``self.execution.get()`` and friends, so the engine's base class carries the
# very same ContextVar objects as class attributes.
setattr(Dependency, "execution", current_execution)  # noqa: B010
setattr(Dependency, "docket", current_docket)  # noqa: B010
setattr(Dependency, "worker", current_worker)  # noqa: B010


@dataclass
class TaskOutcome:
    """What happened when the task body ran, as handed to the handler roles."""

    duration: timedelta
    result: Any = None
    exception: BaseException | None = None


class Runtime(Dependency[T], abc.ABC):
    """A dependency that performs the call of the task body (for example ``Timeout``)."""

    single: bool = True
    available: ClassVar[bool] = True

    @abc.abstractmethod
    async def run(
        self,
        execution: Execution,
        function: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """Call ``function(*args, **kwargs)`` and return its result."""


class FailureHandler(Dependency[T], abc.ABC):
    """A dependency that decides what happens after the task body failed."""

    single: bool = True
    available: ClassVar[bool] = True

    @abc.abstractmethod
    async def handle_failure(self, execution: Execution, outcome: TaskOutcome) -> bool:
        """Return True when the execution was rescheduled and must not be marked failed."""


class CompletionHandler(Dependency[T], abc.ABC):
    """A dependency that takes over the follow-up of a finished run."""

    single: bool = True
    available: ClassVar[bool] = True

    @abc.abstractmethod
    async def on_complete(self, execution: Execution, outcome: TaskOutcome) -> bool:
        """Return True when this handler did the follow-up and the logging."""


class AdmissionBlocked(Exception):
    """Raised from a dependency's ``__aenter__`` to keep the task from starting.

    ``handled`` means the dependency already dealt with the message (nothing more
    to do); otherwise ``reschedule`` picks between rescheduling after
    ``retry_delay`` (100 ms when None) and dropping the execution as cancelled.
    """

    def __init__(
        self,
        execution: Execution,
        reason: str = "admission control",
        *,
        handled: bool = False,
        reschedule: bool = True,
        retry_delay: timedelta | None = None,
    ) -> None:
        self.execution = execution
        self.reason = reason
        self.handled = handled
        self.reschedule = reschedule
        self.retry_delay = retry_delay
        super().__init__(f"Task {execution.key} blocked by {reason}")


class ConcurrencyBlocked(AdmissionBlocked):
    """The execution was parked on a concurrency waiter stream; nothing more to do."""

    def __init__(
        self, execution: Execution, concurrency_key: str, max_concurrent: int
    ) -> None:
        self.concurrency_key = concurrency_key
        self.max_concurrent = max_concurrent
        super().__init__(
            execution,
            f"concurrency limit ({max_concurrent} max) on {concurrency_key}",
            handled=True,
        )


class ForcedRetry(Exception):
    """Raised by ``Retry.after``/``at``/``in_`` to end the attempt and retry it."""


def handler_labels(execution: Execution) -> dict[str, str]:
    """The metric labels for a handler's counters: worker labels plus ``docket.task``."""
    worker = current_worker.get(None)
    labels: dict[str, str] = {}
    if worker is not None:
        labels.update(worker.labels())
    else:
        labels.update(execution.docket.labels())
    labels.update(execution.general_labels())
    return labels


def log_extra(execution: Execution, outcome: TaskOutcome) -> dict[str, Any]:
    """The structured ``extra`` fields of the handlers' log records."""
    extra: dict[str, Any] = {}
    worker = current_worker.get(None)
    if worker is not None:
        extra.update(worker.labels())
    else:
        extra.update(execution.docket.labels())
    extra.update(execution.specific_labels())
    extra["duration"] = outcome.duration.total_seconds()
    return extra
