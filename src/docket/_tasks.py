"""Task functions: the checks applied when one is registered, the placeholder
for a name no task is registered under, and the built-in tasks registered on
every docket (trace, fail and sleep).

``docket.tasks`` is the built-ins' public home (with the names pydocket imports
there); the Docket registers them from here, below the layer that module sits in."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uncalled_for import get_annotation_dependencies, get_dependency_parameters

from . import _clock
from ._handles import DocketHandle, TaskFunction, WorkerHandle
from .annotations import fair_share_parameter
from .dependencies._contextual import (
    CurrentExecution,
    DocketOfRun,
    TaskLogger,
    WorkerOfRun,
)
from .dependencies._isolated import Isolated
from .dependencies._retry import Retry
from .dependencies._validation import validate_dependencies
from .execution import Execution


def _elapsed(execution: Execution) -> str:
    return str(_clock.utcnow() - execution.when)


async def trace(
    message: str,
    logger: logging.LoggerAdapter[logging.Logger] = TaskLogger(),
    docket: DocketHandle = DocketOfRun(),
    worker: WorkerHandle = WorkerOfRun(),
    execution: Execution = CurrentExecution(),
) -> None:
    """Log that the task ran: a smoke test for a deployment."""
    logger.info(
        "%s: %r added to docket %r %s ago now running on worker %r",
        message,
        execution.key,
        docket.name,
        _elapsed(execution),
        worker.name,
    )


async def fail(
    message: str,
    docket: DocketHandle = DocketOfRun(),
    worker: WorkerHandle = WorkerOfRun(),
    execution: Execution = CurrentExecution(),
    retry: Retry = Retry(attempts=2),
) -> None:
    """Fail on purpose (twice, with one retry): a smoke test for error handling."""
    raise Exception(
        f"{message}: {execution.key} added to docket {docket.name} "
        f"{_elapsed(execution)} ago now running on worker {worker.name}"
    )


async def sleep(
    seconds: float, logger: logging.LoggerAdapter[logging.Logger] = TaskLogger()
) -> None:
    """Sleep for ``seconds``: a smoke test for long-running work."""
    logger.info("Sleeping for %s seconds", seconds)
    await asyncio.sleep(seconds)


standard_tasks = [trace, fail, sleep]


def check_task_function(function: Any) -> None:
    """Reject what cannot be a task, with a clear error, before anything is stored."""
    if not callable(function):
        raise TypeError(f"Tasks must be functions, not {type(function).__name__}")
    if not hasattr(function, "__name__"):
        raise TypeError(f"Task {function!r} has no __name__; register a named function")
    validate_dependencies(function)
    fair_share_parameter(function)  # at most one FairShare parameter
    dependencies = list(get_dependency_parameters(function).values())
    for group in get_annotation_dependencies(function).values():
        dependencies.extend(group)
    for dependency in dependencies:
        if getattr(type(dependency), "available", True) is False:
            raise NotImplementedError(
                f"Task {function.__name__!r} uses {type(dependency).__name__}, "
                "which is not available in this release of docket"
            )
    if any(isinstance(d, Isolated) for d in dependencies):
        for dependency in dependencies:
            if getattr(type(dependency), "isolated", True) is False:
                raise TypeError(
                    f"Task {function.__name__!r} uses {type(dependency).__name__} "
                    "with Isolated: it works in the worker's process only (its "
                    "state lives with the worker), so the two cannot be combined"
                )


def placeholder_task(name: str) -> TaskFunction:
    """A stand-in for a task name this process has not registered."""

    async def placeholder(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"Task {name!r} is not registered in this process")

    placeholder.__name__ = name
    placeholder.__qualname__ = name
    return placeholder


__all__ = [
    "fail",
    "sleep",
    "standard_tasks",
    "trace",
    "check_task_function",
    "placeholder_task",
]
