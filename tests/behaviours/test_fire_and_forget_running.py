"""A fire-and-forget docket (``execution_ttl=0``) does not mark its run records
"running" at claim (one write less per task), yet a running task reads as running
and a ``clear()`` leaves it alone, exactly as on a docket that keeps records."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from docket import Disposition, Docket, ExecutionState, Worker
from tests._support.timings import FAST


async def test_a_running_task_reads_as_running_and_survives_a_clear(
    docket_url: str, docket_name: str
):
    """While a task of an ``execution_ttl=0`` docket runs, ``get_execution`` and
    ``sync`` say RUNNING on its worker; ``clear()`` withdraws the queued task
    behind it but not the running one (its record, its stream entry, its key:
    adding the key again is refused), and the running task then completes."""
    started = asyncio.Event()
    release = asyncio.Event()

    async def held() -> None:
        started.set()
        await release.wait()

    async def other() -> None: ...

    async with Docket(
        name=docket_name, url=docket_url, execution_ttl=timedelta(0)
    ) as docket:
        docket.register(held)
        docket.register(other)
        execution = await docket.add(held, key="held")()
        async with Worker(docket, name="holder", concurrency=1, **FAST) as worker:
            running = asyncio.ensure_future(worker.run_until_finished())
            await asyncio.wait_for(started.wait(), 10)
            await docket.add(other, key="behind")()

            assert await docket.clear() == 1  # "behind" only
            during = await docket.get_execution("held")
            assert during is not None and during.state is ExecutionState.RUNNING
            assert during.worker == "holder" and during.started_at is not None
            await execution.sync()
            assert execution.state is ExecutionState.RUNNING
            again = await docket.add(held, key="held")()
            assert again.disposition is Disposition.ALREADY_SCHEDULED
            async with docket.redis() as client:
                entries = await client.xrange(docket.stream_key)
            assert [fields[b"key"] for _, fields in entries] == [b"held"]

            release.set()
            await asyncio.wait_for(running, 10)
        assert await docket.get_execution("held") is None  # settled: no record
        assert await docket.get_execution("behind") is None  # withdrawn


async def test_a_queued_task_still_reads_as_queued(docket_url: str, docket_name: str):
    """Before any worker holds it, an ``execution_ttl=0`` task reads as QUEUED."""

    async def idle() -> None: ...

    async with Docket(
        name=docket_name, url=docket_url, execution_ttl=timedelta(0)
    ) as docket:
        docket.register(idle)
        await docket.add(idle, key="waiting")()
        seen = await docket.get_execution("waiting")
        assert seen is not None and seen.state is ExecutionState.QUEUED
        assert seen.worker is None
