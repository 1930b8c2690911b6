"""Built-in tasks registered on every docket: trace, fail and sleep."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone

from ._context import current_worker
from .dependencies._contextual import CurrentExecution, TaskLogger
from .dependencies._retry import Retry
from .execution import Execution


def _elapsed(execution: Execution) -> str:
    return str(datetime.now(timezone.utc) - execution.when)


def _worker_name() -> str | None:
    worker = current_worker.get(None)
    return worker.name if worker is not None else None


async def trace(
    message: str,
    logger: logging.LoggerAdapter[logging.Logger] = TaskLogger(),
    execution: Execution = CurrentExecution(),
) -> None:
    """Log that the task ran: a smoke test for a deployment."""
    logger.info(
        "%s: %r added to docket %r %s ago now running on worker %r",
        message,
        execution.key,
        execution.docket.name,
        _elapsed(execution),
        _worker_name(),
    )


async def fail(
    message: str,
    execution: Execution = CurrentExecution(),
    retry: Retry = Retry(attempts=2),
) -> None:
    """Fail on purpose (twice, with one retry): a smoke test for error handling."""
    raise Exception(
        f"{message}: {execution.key} added to docket {execution.docket.name} "
        f"{_elapsed(execution)} ago now running on worker {_worker_name()}"
    )


async def sleep(
    seconds: float, logger: logging.LoggerAdapter[logging.Logger] = TaskLogger()
) -> None:
    """Sleep for ``seconds``: a smoke test for long-running work."""
    logger.info("Sleeping for %s seconds", seconds)
    await asyncio.sleep(seconds)


standard_tasks = [trace, fail, sleep]

__all__ = ["fail", "sleep", "standard_tasks", "trace"]
