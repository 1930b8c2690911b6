"""Admission-controlled tasks for the multi-process tests, and their worker runner.

Worker processes register them as ``tests._support.admission_tasks:tasks``.
Tasks record what they did in lists under ``P:test-...`` keys, so the test process
can see what every worker process did.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import timedelta

from docket import (
    ConcurrencyLimit,
    CurrentDocket,
    CurrentExecution,
    Docket,
    Execution,
    RateLimit,
)


async def limited(
    n: int,
    docket: Docket = CurrentDocket(),
    limit: ConcurrencyLimit = ConcurrencyLimit(max_concurrent=2),
) -> None:
    """Count the holders inside at once (INCR on entry, DECR on exit)."""
    async with docket.redis() as client:
        inside = await client.incr(docket.key("test-inside"))
        await client.rpush(docket.key("test-inside-log"), inside)
        await asyncio.sleep(0.05)  # the work: long enough for runs to overlap
        await client.decr(docket.key("test-inside"))
        await client.rpush(docket.key("test-ran"), f"{n}:{os.getpid()}")


async def throttled(
    n: int,
    docket: Docket = CurrentDocket(),
    limit: RateLimit = RateLimit(3, per=timedelta(milliseconds=600)),
) -> None:
    """Record the start time (ms) of each admitted run."""
    async with docket.redis() as client:
        started = int(time.time() * 1000)
        await client.rpush(docket.key("test-starts"), f"{started}:{n}:{os.getpid()}")


async def stalled_holder(
    label: str,
    docket: Docket = CurrentDocket(),
    execution: Execution = CurrentExecution(),
    limit: ConcurrencyLimit = ConcurrencyLimit(max_concurrent=1),
) -> str:
    """Hold the slot and hang on the holder's first start; record every start."""
    async with docket.redis() as client:
        await client.rpush(
            docket.key("test-started"),
            f"{label}:{os.getpid()}:{execution.redelivered}",
        )
        first = await client.incr(docket.key(f"test-starts:{label}")) == 1
    if label == "holder" and first:
        await asyncio.sleep(60)
    return f"{label} finished by {os.getpid()}"


async def note(label: str, docket: Docket = CurrentDocket()) -> None:
    """Record that ``label`` ran (for the strike tests)."""
    async with docket.redis() as client:
        await client.rpush(docket.key("test-noted"), label)


tasks = [limited, throttled, stalled_holder, note]
