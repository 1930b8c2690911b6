"""A task that blocks its worker's event loop (run by worker subprocesses)."""

from __future__ import annotations

import os
import time

from docket import CurrentDocket, Docket


async def blocks_the_loop(
    seconds: float, label: str, docket: Docket = CurrentDocket()
) -> None:
    """Note the run, then block the event loop for ``seconds``."""
    async with docket.redis() as client:
        await client.rpush(docket.key(f"test-ran:{label}"), str(os.getpid()))
    time.sleep(seconds)  # noqa: ASYNC251 (blocking the loop is the point)


tasks = [blocks_the_loop]
