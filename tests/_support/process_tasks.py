"""Tasks the multi-process tests run in worker subprocesses."""

from __future__ import annotations

import asyncio
import os

from docket import CurrentDocket, CurrentExecution, Docket, Execution


async def record(
    label: str,
    docket: Docket = CurrentDocket(),
    execution: Execution = CurrentExecution(),
) -> None:
    """Note which process ran ``label`` (a list per label, so duplicates show)."""
    await asyncio.sleep(0.01)
    async with docket.redis() as client:
        await client.rpush(docket.key(f"test-ran:{label}"), str(os.getpid()))


async def stall_first_time(
    docket: Docket = CurrentDocket(), execution: Execution = CurrentExecution()
) -> str:
    """Announce the start, then hang unless this is a redelivery."""
    async with docket.redis() as client:
        await client.rpush(
            docket.key("test-started"), f"{os.getpid()}:{execution.redelivered}"
        )
    if not execution.redelivered:
        await asyncio.sleep(60)
    return f"finished by {os.getpid()}"


tasks = [record, stall_first_time]
