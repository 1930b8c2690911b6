"""Tasks the CLI and observability tests run in ``docket worker`` subprocesses.

Each task records what it did under ``<docket>:test-...`` keys, so a test can wait
on the record instead of sleeping.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from docket import (
    CurrentDocket,
    CurrentExecution,
    Docket,
    Execution,
    Perpetual,
    Progress,
    Retry,
)


async def greet(name: str) -> str:
    """A quick task with a result."""
    return f"Hello, {name}!"


async def linger(
    seconds: float,
    docket: Docket = CurrentDocket(),
    execution: Execution = CurrentExecution(),
) -> str:
    """Mark the start, work for ``seconds`` (not when redelivered), mark the end."""
    async with docket.redis() as client:
        await client.rpush(docket.key("test-started"), execution.key)
    if not execution.redelivered:
        await asyncio.sleep(seconds)
    async with docket.redis() as client:
        await client.rpush(docket.key("test-finished"), execution.key)
    return execution.key


async def flaky(
    execution: Execution = CurrentExecution(),
    retry: Retry = Retry(attempts=2),
) -> str:
    """Fails on its first attempt and succeeds on the retry."""
    if execution.attempt == 1:
        raise RuntimeError("first attempt fails")
    return "second attempt"


async def broken() -> None:
    """Always fails."""
    raise ValueError("broken on purpose")


async def tick(
    perpetual: Perpetual = Perpetual(every=timedelta(milliseconds=50)),
) -> None:
    """Runs again and again, 50 ms apart."""


async def chatty(message: str) -> None:
    """Logs through a plain module logger, not a TaskLogger."""
    logging.getLogger("tests._support.cli_tasks").warning("chatty says %s", message)


async def steps(count: int, progress: Progress = Progress()) -> None:
    """Reports progress ``count`` times, a little apart."""
    await progress.set_total(count)
    for step in range(count):
        await progress.set_message(f"step {step + 1}")
        await progress.increment()
        await asyncio.sleep(0.05)


async def block_loop(seconds: float) -> None:
    """Blocks the worker's event loop (what a badly written task does)."""
    time.sleep(seconds)


async def fails_first(execution: Execution = CurrentExecution()) -> str:
    """Fails on its first attempt; declares no Retry (see worker_dependencies)."""
    if execution.attempt == 1:
        raise RuntimeError("first attempt fails")
    return f"attempt {execution.attempt}"


async def gives_up(retry: Retry = Retry(attempts=3)) -> None:
    """Fails on every attempt: retried twice, then it gives up."""
    raise RuntimeError("still broken")


tasks = [
    greet,
    linger,
    flaky,
    broken,
    tick,
    chatty,
    steps,
    block_loop,
    fails_first,
    gives_up,
]

# For ``docket worker --dependencies tests._support.cli_tasks:worker_dependencies``.
worker_dependencies = [Retry(attempts=2)]


async def fallback(*args: object, execution: Execution = CurrentExecution()) -> str:
    """Handles unknown task names."""
    return f"fallback ran {execution.function_name}"
