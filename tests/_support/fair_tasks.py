"""FairShare tasks the fair-share tests run, in process and in ``docket worker``
subprocesses. Each records its tenant in ``<docket>:test-fair-done`` when it ends,
so a test waits on the record instead of sleeping."""

from __future__ import annotations

import asyncio
from typing import Annotated

from docket import CurrentDocket, Docket, FairShare


async def render(
    n: int,
    tenant: Annotated[str, FairShare()],
    seconds: float = 0.015,
    docket: Docket = CurrentDocket(),
) -> None:
    """A little work (``seconds`` of it), then the tenant's mark."""
    await asyncio.sleep(seconds)
    async with docket.redis() as client:
        await client.rpush(docket.key("test-fair-done"), tenant)


async def numbered(
    n: int, tenant: Annotated[str, FairShare()], docket: Docket = CurrentDocket()
) -> None:
    """Marks ``<tenant>/<n>`` at once (so a test sees each task ran exactly once)."""
    async with docket.redis() as client:
        await client.rpush(docket.key("test-fair-done"), f"{tenant}/{n}")


tasks = [render, numbered]
