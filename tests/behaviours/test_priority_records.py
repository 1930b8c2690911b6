"""A run's priority read back, on both backends: the run record keeps it (only
when it is not 5, so a plain record is as it was), ``get_execution`` fills
``Execution.priority`` from it in every state, and it stays through replace,
a retry, a Perpetual successor and a ConcurrencyLimit waiter's wait."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from docket import (
    ConcurrencyLimit,
    CurrentDocket,
    CurrentExecution,
    Docket,
    Execution,
    ExecutionState,
    Perpetual,
    Retry,
)
from tests._support.timings import fast_worker
from tests.conftest import eventually

SEEN: list[tuple[str, int]] = []
FAILS_LEFT: dict[str, int] = {}
GATES: dict[str, asyncio.Event] = {}


async def noted(
    label: str,
    docket: Docket = CurrentDocket(),
    execution: Execution = CurrentExecution(),
    retry: Retry = Retry(attempts=3),
) -> None:
    """Notes the priority ``get_execution`` reads for its own key while it runs;
    fails while FAILS_LEFT says so."""
    found = await docket.get_execution(execution.key)
    assert found is not None
    SEEN.append((label, found.priority))
    if FAILS_LEFT.get(label, 0) > 0:
        FAILS_LEFT[label] -= 1
        raise RuntimeError("not yet")


async def ticking(
    docket: Docket = CurrentDocket(),
    execution: Execution = CurrentExecution(),
    perpetual: Perpetual = Perpetual(every=timedelta(milliseconds=1)),
) -> None:
    found = await docket.get_execution(execution.key)
    assert found is not None
    SEEN.append(("tick", found.priority))
    if len(SEEN) >= 3:
        perpetual.cancel()


async def limited(label: str, limit: ConcurrencyLimit = ConcurrencyLimit(1)) -> None:
    """One at a time; waits for its gate, if it has one."""
    SEEN.append((label, 0))
    if label in GATES:
        await GATES[label].wait()


@pytest.fixture(autouse=True)
def fresh() -> None:
    SEEN.clear()
    FAILS_LEFT.clear()
    GATES.clear()


async def priority_of(docket: Docket, key: str) -> tuple[ExecutionState, int]:
    execution = await docket.get_execution(key)
    assert execution is not None
    return execution.state, execution.priority


async def test_get_execution_reads_the_priority_in_every_state(docket: Docket) -> None:
    """A priority-8 task reads back at 8 while it waits on its lane, while it
    runs and once it completed; one added for later reads 3 while scheduled; a
    plain task reads 5 and its record has no priority field (as before)."""
    docket.register(noted)
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    await docket.add(noted, key="urgent", priority=8)("urgent")
    await docket.add(noted, key="later", when=later, priority=3)("later")
    await docket.add(noted, key="plain")("plain")
    assert await priority_of(docket, "urgent") == (ExecutionState.QUEUED, 8)
    assert await priority_of(docket, "later") == (ExecutionState.SCHEDULED, 3)
    assert await priority_of(docket, "plain") == (ExecutionState.QUEUED, 5)
    record = await docket.broker.client.hgetall(docket.keyspace.runs("plain"))
    assert b"priority" not in record
    await docket.cancel("later")  # (run_until_finished would wait for it)
    async with fast_worker(docket, concurrency=1) as worker:
        await worker.run_until_finished()
    assert SEEN == [("urgent", 8), ("plain", 5)]
    assert await priority_of(docket, "urgent") == (ExecutionState.COMPLETED, 8)
    assert await priority_of(docket, "plain") == (ExecutionState.COMPLETED, 5)


async def test_replace_and_retry_keep_or_change_the_priority(docket: Docket) -> None:
    """Replace writes the new run's priority (9 over 2; a replace without one
    goes back to 5); a retried run reads its priority on every attempt."""
    docket.register(noted)
    now = datetime.now(timezone.utc)
    await docket.add(noted, key="moved", priority=2)("moved")
    await docket.replace(noted, now, "moved", priority=9)("moved")
    assert await priority_of(docket, "moved") == (ExecutionState.QUEUED, 9)
    await docket.add(noted, key="back", priority=7)("back")
    await docket.replace(noted, now, "back")("back")
    assert await priority_of(docket, "back") == (ExecutionState.QUEUED, 5)
    FAILS_LEFT["again"] = 2
    await docket.add(noted, key="again", priority=4)("again")
    async with fast_worker(docket, concurrency=1) as worker:
        await worker.run_until_finished()
    assert [p for label, p in SEEN if label == "again"] == [4, 4, 4]
    assert ("moved", 9) in SEEN and ("back", 5) in SEEN
    assert await priority_of(docket, "again") == (ExecutionState.COMPLETED, 4)


async def test_a_perpetual_successor_reads_its_priority(docket: Docket) -> None:
    """Each run of a Perpetual task added at priority 7 reads back at 7."""
    docket.register(ticking)
    await docket.add(ticking, key="tick", priority=7)()
    async with fast_worker(docket, concurrency=1) as worker:
        await worker.run_until_finished()
    assert SEEN == [("tick", 7)] * 3


async def test_a_concurrency_waiter_reads_its_priority(docket: Docket) -> None:
    """A priority-9 task waiting for its ConcurrencyLimit slot reads back at 9
    while it waits (scheduled), and once it ran."""
    docket.register(limited)
    GATES["hold"] = asyncio.Event()
    async with fast_worker(docket, concurrency=2) as worker:
        running = asyncio.ensure_future(worker.run_forever())
        try:
            await docket.add(limited, key="hold")("hold")
            await eventually(lambda: ("hold", 0) in SEEN, timeout=5)
            await docket.add(limited, key="urgent", priority=9)("urgent")

            async def waiting() -> bool:
                state, _ = await priority_of(docket, "urgent")
                return state == ExecutionState.SCHEDULED

            await eventually(waiting, timeout=5)
            assert await priority_of(docket, "urgent") == (
                ExecutionState.SCHEDULED,
                9,
            )
            GATES["hold"].set()

            async def done() -> bool:
                state, _ = await priority_of(docket, "urgent")
                return state == ExecutionState.COMPLETED

            await eventually(done, timeout=5)
        finally:
            GATES["hold"].set()
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
    assert await priority_of(docket, "urgent") == (ExecutionState.COMPLETED, 9)
