"""Contextual dependencies: the execution, key, arguments, logger and progress.

Each public factory is a plain function that returns a dependency object but is
typed as the injected value, so ``execution: Execution = CurrentExecution()``
type-checks; ``CurrentDocket`` and ``CurrentWorker`` are in ``_current``, above
the Docket and the Worker. The dependency classes are ``Provider``s, so they also
supply the value when used as ``Annotated`` metadata. ``Progress`` reports a
task's progress from inside it, through its execution's ``ExecutionProgress``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar, cast

from uncalled_for import Dependency, Provider, current_frame
from uncalled_for.frames import _CallArgument  # pyright: ignore[reportPrivateUsage]

from .._handles import DocketHandle, WorkerHandle
from ..execution import Execution, ExecutionProgress
from ._context import current_docket, current_execution, current_worker

if TYPE_CHECKING:
    TaskLoggerAdapter = logging.LoggerAdapter[logging.Logger]


class _RunDocket(Provider[DocketHandle]):
    available: ClassVar[bool] = True

    async def __aenter__(self) -> DocketHandle:
        return current_docket.get()


class _RunWorker(Provider[WorkerHandle]):
    available: ClassVar[bool] = True

    async def __aenter__(self) -> WorkerHandle:
        return current_worker.get()


class _CurrentExecution(Provider["Execution"]):
    available: ClassVar[bool] = True

    async def __aenter__(self) -> Execution:
        return current_execution.get()


class _TaskKey(Provider[str]):
    available: ClassVar[bool] = True

    async def __aenter__(self) -> str:
        return current_execution.get().key


class _TaskLogger(Provider["TaskLoggerAdapter"]):
    available: ClassVar[bool] = True

    async def __aenter__(self) -> TaskLoggerAdapter:
        execution = current_execution.get()
        worker = current_worker.get(None)
        logger = logging.getLogger(f"docket.task.{execution.function_name}")
        extra: dict[str, Any] = {
            "docket.name": execution.docket.name,
            "docket.worker": worker.name if worker is not None else None,
            "docket.task": execution.function_name,
            "docket.key": execution.key,
            "docket.when": execution.when.isoformat(),
            "docket.attempt": execution.attempt,
        }
        return logging.LoggerAdapter(logger, extra)


class _UnnamedTaskArgument(Provider[Any]):
    """What a bare ``TaskArgument()`` becomes when it sits directly on a task."""

    available: ClassVar[bool] = True

    async def __aenter__(self) -> Any:
        raise ValueError("No parameter name specified")


class _TaskArgument(_CallArgument):
    """One of the task's own call arguments, found by binding args and kwargs.

    It reuses the engine's ``CallArgument`` for naming (``for_parameter``) and for
    ``Depends`` binding cache keys, but reads the value from the execution:
    the execution's args and kwargs bound to the task's signature, without
    defaults.
    """

    available: ClassVar[bool] = True

    def __init__(self, parameter: str | None = None, optional: bool = False) -> None:
        super().__init__(parameter, optional)

    def for_parameter(self, name: str) -> Dependency[Any]:
        if self.parameter is not None:
            return self
        try:
            frame = current_frame()
        except RuntimeError:
            frame = None
        if frame is not None and frame.parameters.get(name) is self:
            # Declared directly as a default of the task itself: there is no
            # dependency function whose parameter name could be borrowed.
            return _UnnamedTaskArgument()
        return _TaskArgument(name, self.optional)

    async def __aenter__(self) -> Any:
        if self.parameter is None:
            raise ValueError("No parameter name specified")
        execution = current_execution.get()
        try:
            return execution.get_argument(self.parameter)
        except KeyError:
            if self.optional:
                return None
            raise


def DocketOfRun() -> DocketHandle:
    """The docket of the running task: what ``CurrentDocket()`` injects, typed as
    the handle the layers below ``Docket`` use (the built-in tasks)."""
    return cast(DocketHandle, _RunDocket())


def WorkerOfRun() -> WorkerHandle:
    """The worker of the running task: what ``CurrentWorker()`` injects."""
    return cast(WorkerHandle, _RunWorker())


def CurrentExecution() -> Execution:
    """Inject the current ``Execution``."""
    return cast("Execution", _CurrentExecution())


def TaskKey() -> str:
    """Inject the current task key."""
    return cast(str, _TaskKey())


def TaskArgument(parameter: str | None = None, optional: bool = False) -> Any:
    """Inject one of the task's call arguments into a dependency function.

    Without ``parameter`` the name is the dependency function's own parameter
    name. A missing argument raises ``KeyError`` unless ``optional`` is true, in
    which case None is injected.
    """
    return _TaskArgument(parameter, optional)


def TaskLogger() -> TaskLoggerAdapter:
    """Inject a ``LoggerAdapter`` over ``docket.task.<function_name>``."""
    return cast("TaskLoggerAdapter", _TaskLogger())


class Progress(Provider["Progress"]):
    """Progress reporting bound to the current execution's ``ExecutionProgress``.

    ``current``, ``total`` and ``message`` hold the local values; the ``set_total``,
    ``increment`` and ``set_message`` methods update Redis and publish an event.
    Using it outside a worker fails an assertion.
    """

    available: ClassVar[bool] = True

    def __init__(self) -> None:
        self._progress: ExecutionProgress | None = None

    async def __aenter__(self) -> Progress:
        progress = Progress()
        progress._progress = current_execution.get().progress
        return progress

    @property
    def _bound(self) -> ExecutionProgress:
        assert self._progress is not None, (
            "Progress is only available inside a task run by a docket worker"
        )
        return self._progress

    @property
    def current(self) -> int | None:
        return self._bound.current

    @property
    def total(self) -> int:
        return self._bound.total

    @property
    def message(self) -> str | None:
        return self._bound.message

    async def set_total(self, total: int) -> None:
        """Set the expected total (at least 1)."""
        await self._bound.set_total(total)

    async def increment(self, amount: int = 1) -> None:
        """Advance ``current`` by ``amount`` (at least 1)."""
        await self._bound.increment(amount)

    async def set_message(self, message: str | None) -> None:
        """Set the status message; None clears it."""
        await self._bound.set_message(message)
