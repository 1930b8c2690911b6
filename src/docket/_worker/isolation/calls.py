"""One isolated call, from the worker's side: what crosses to the child, and
what comes back while it runs (progress, a Timeout's extension, log records).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any, Protocol

from ...dependencies._base import Runtime
from ...dependencies._contextual import Progress
from ...dependencies._isolated import Isolated
from ...dependencies._timeout import Timeout
from ...execution import Execution
from . import wire
from .pool import Pool
from .standins import ChildLogger, ChildProgress, ChildTimeout

logger = logging.getLogger("docket.worker")


class Pools(Protocol):
    """What a call needs of the worker's pools (``Isolation``)."""

    def pool_for(self, isolated: Isolated) -> Pool: ...

    def observe(self, pool: str, event: str) -> None: ...


class Refused(TypeError):
    """A dependency value that cannot cross into an isolated child."""


def crossing(name: str, value: Any, execution: Execution, worker: Any) -> Any:  # noqa: C901
    """What the child gets for the resolved dependency ``name``."""
    if isinstance(value, Isolated):
        return value
    if isinstance(value, Progress):
        progress = execution.progress
        return ChildProgress(progress.current, progress.total, progress.message)
    if isinstance(value, Timeout):
        deadline = time.monotonic() + value.remaining().total_seconds()
        return ChildTimeout(value.base, deadline)
    if isinstance(value, logging.LoggerAdapter):
        adapter: logging.LoggerAdapter[Any] = value  # pyright: ignore[reportUnknownVariableType]
        return ChildLogger(adapter.logger.name, dict(adapter.extra or {}))
    if isinstance(value, Execution) or value is execution.docket or value is worker:
        raise Refused(
            f"parameter {name!r} ({type(value).__name__}) cannot cross into an "
            "isolated child: take what the body needs from it in a Depends() "
            "function, or pass it as an argument"
        )
    return value


class Updates:
    """Applies what the child sends while it runs, in order: progress is
    written through the execution (as ``Progress`` does), ``extend`` moves the
    worker's ``Timeout``, log records go to the worker's logging."""

    def __init__(self, execution: Execution, runtime: Runtime[Any] | None) -> None:
        self.execution = execution
        self.runtime = runtime
        self.queue: asyncio.Queue[tuple[str, Any] | None] = asyncio.Queue()
        self.writer: asyncio.Future[None] | None = None  # with the first update

    def __call__(self, kind: bytes, value: Any) -> None:
        if kind == wire.LOG:
            record = logging.makeLogRecord(value)
            record.args = None
            logging.getLogger(record.name).handle(record)
        elif kind == wire.EXTEND and isinstance(self.runtime, Timeout):
            self.runtime.extend(timedelta(seconds=float(value)))
        elif kind == wire.PROGRESS:
            self.queue.put_nowait((str(value[0]), value[1]))
            if self.writer is None:
                self.writer = asyncio.ensure_future(self._write())

    async def _write(self) -> None:
        progress = self.execution.progress
        while (update := await self.queue.get()) is not None:
            method, value = update
            try:
                if method == "set_total":
                    await progress.set_total(int(value))
                elif method == "increment":
                    await progress.increment(int(value))
                elif method == "set_message":
                    await progress.set_message(None if value is None else str(value))
            except Exception as error:  # progress never fails the task
                logger.warning(
                    "Could not record progress of %s: %s", self.execution.key, error
                )

    async def finish(self) -> None:
        """Wait until every update sent so far is written."""
        if self.writer is None:
            return
        self.queue.put_nowait(None)
        try:
            await asyncio.shield(self.writer)
        except asyncio.CancelledError:
            self.writer.cancel()
            raise


async def run_isolated(
    isolation: Pools,
    execution: Execution,
    isolated: Isolated,
    runtime: Runtime[Any] | None,
    kwargs: dict[str, Any],
    resolved: dict[str, Any],
    worker: Any,
) -> Any:
    """Run the task body in a child of ``isolated``'s pool (under ``runtime``,
    a ``Timeout``, when there is one); the child is killed if the call is
    cancelled (the Timeout's deadline, a cancel, a forced stop)."""
    pool = isolation.pool_for(isolated)
    child = await pool.acquire()  # the body's time starts once a child has it
    updates = Updates(execution, runtime)
    killed = False

    async def body(*args: Any, **given: Any) -> Any:
        nonlocal killed
        sent = {
            name: crossing(name, value, execution, worker)
            if name in resolved
            else value
            for name, value in given.items()
        }
        payload = (
            execution.function,
            args,
            sent,
            {"memory_limit": isolated.memory_limit},
        )
        try:
            return await pool.call(child, payload, updates, isolated.memory_limit)
        except asyncio.CancelledError:
            killed = True
            raise

    try:
        if runtime is not None:
            return await runtime.run(execution, body, execution.args, kwargs)
        return await body(*execution.args, **kwargs)
    except asyncio.TimeoutError:
        if killed:
            isolation.observe(pool.name, "restart:timeout")
            isolation.observe(pool.name, "timeout")
        raise
    except asyncio.CancelledError:
        if killed:
            isolation.observe(pool.name, "restart:cancelled")
        raise
    finally:
        pool.release(child)
        await updates.finish()
