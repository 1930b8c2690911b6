"""FairShare tasks the fair-share tests run, in process and in ``docket worker``
subprocesses. Each records its tenant in ``<docket>:test-fair-done`` when it ends,
so a test waits on the record instead of sleeping. ``fill_backlogs`` adds any
such task by the value, to leave backlogs for a listing to show."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
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


async def fill_backlogs(
    docket: Docket,
    task: Callable[[int, str], Awaitable[None]],
    counts: Mapping[str, int],
    weights: Mapping[str, float],
) -> None:
    """Registers ``task`` (a FairShare task called as ``task(n, value)``), sets the
    ``weights`` by value and adds ``counts[value]`` tasks of each value, value after
    value: the first ten added go to the stream at once (the first window), the
    rest wait in their values' backlogs."""
    docket.register(task)
    for value, weight in weights.items():
        await docket.set_fair_share_weight(task, value, weight)
    for value, count in counts.items():
        for n in range(count):
            await docket.add(task)(n, value)
