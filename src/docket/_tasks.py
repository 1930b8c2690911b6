"""Built-in tasks registered on every docket: trace, fail and sleep.

``docket.tasks`` is their public home (with the names pydocket imports there);
the Docket registers them from here, below the layer that module sits in."""

from __future__ import annotations

import asyncio
import logging

from . import _clock
from ._handles import DocketHandle, WorkerHandle
from .dependencies._contextual import (
    CurrentExecution,
    DocketOfRun,
    TaskLogger,
    WorkerOfRun,
)
from .dependencies._retry import Retry
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

__all__ = ["fail", "sleep", "standard_tasks", "trace"]
