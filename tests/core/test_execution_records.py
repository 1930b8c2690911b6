"""Reading outcomes back from records and result documents that are incomplete,
malformed or gone, as pydocket code meets them."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from docket import Docket, ExecutionState, Worker
from tests._support.timings import FAST


async def answer() -> int:
    return 42


async def explode() -> None:
    raise ValueError("boom")


async def test_sync_of_a_record_without_state_keeps_the_known_state(docket: Docket):
    """A run record missing its ``state`` field leaves the execution's state alone
    and still reads the other fields (no KeyError)."""
    execution = await docket.add(answer, key="stateless")()
    assert execution.state is ExecutionState.QUEUED
    async with docket.redis() as client:
        await client.hdel(docket.runs_key("stateless"), "state")
        await client.hset(docket.runs_key("stateless"), "worker", "somebody")
    await execution.sync()
    assert execution.state is ExecutionState.QUEUED
    assert execution.worker == "somebody"


async def test_a_malformed_result_document_reads_as_no_result(docket: Docket):
    """A stored result without its ``data`` field gives None for a completed task
    and the recorded error for a failed one, never a bare KeyError."""
    ok = await docket.add(answer, key="ok")()
    bad = await docket.add(explode, key="bad")()
    async with Worker(docket, **FAST) as worker:
        await worker.run_until_finished()
    for execution in (ok, bad):
        await execution.sync()
        assert execution.result_key is not None
        await docket.result_storage.put(execution.result_key, {"nope": "x"}, ttl=60)
    assert await ok.get_result() is None
    with pytest.raises(Exception, match="ValueError: boom") as raised:
        await bad.get_result()
    assert type(raised.value) is Exception


async def test_get_result_of_a_finished_fire_and_forget_task_fails_at_once(
    docket_url: str, docket_name: str
):
    """With execution_ttl=0 nothing is kept once a task ends: get_result() on such a
    task raises a clear error at once instead of waiting forever."""
    async with Docket(
        name=f"{docket_name}-ttl0", url=docket_url, execution_ttl=timedelta(0)
    ) as docket:
        execution = await docket.add(answer, key="gone")()
        async with Worker(docket, **FAST) as worker:
            await worker.run_until_finished()
        fresh = await docket.add(answer, key="gone-too")()  # not run yet: waits fine
        waiter = asyncio.ensure_future(fresh.get_result(timeout=timedelta(seconds=5)))
        with pytest.raises(RuntimeError, match="execution_ttl=0"):
            await asyncio.wait_for(execution.get_result(), 5)
        # With a deadline it is the TimeoutError pydocket code expects, at once.
        started = asyncio.get_running_loop().time()
        with pytest.raises(TimeoutError, match="execution_ttl=0"):
            await execution.get_result(timeout=timedelta(seconds=30))
        assert asyncio.get_running_loop().time() - started < 5
        async with Worker(docket, **FAST) as worker:
            await worker.run_until_finished()
        assert await asyncio.wait_for(waiter, 5) is None


async def test_get_result_on_a_kept_docket_still_waits(docket: Docket):
    """With a positive execution_ttl an unknown key is waited on (until timeout)."""
    execution = await docket.add(
        answer, when=datetime.now(timezone.utc) + timedelta(hours=1), key="later"
    )()
    with pytest.raises(TimeoutError):
        await execution.get_result(timeout=timedelta(milliseconds=100))
