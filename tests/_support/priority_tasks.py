"""Tasks the priority process tests run in ``docket worker`` subprocesses."""

from __future__ import annotations

import asyncio
import time

from docket import CurrentDocket, Docket


async def busy(seconds: float) -> None:
    """Priority-5 work: a little sleep."""
    await asyncio.sleep(seconds)


async def urgent(added: float, docket: Docket = CurrentDocket()) -> None:
    """Records how long after ``added`` (the producer's clock, same machine) it
    started."""
    started = time.time()
    async with docket.redis() as client:
        await client.set(docket.key("test-urgent-delay"), repr(started - added))


tasks = [busy, urgent]
