"""ConcurrencyLimit waiters: dedupe, cancel, replace, events, crashed holders."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from docket import ConcurrencyLimit, Disposition, Docket, ExecutionState, Worker
from tests._support.timings import FAST
from tests.conftest import eventually

GATE: dict[str, asyncio.Event] = {}


@pytest.fixture
async def quick_worker(docket: Docket) -> AsyncIterator[Worker]:
    """A worker whose redelivery timeout (and so slot staleness) is 300 ms."""
    async with Worker(
        docket,
        **FAST,
        redelivery_timeout=timedelta(milliseconds=300),
    ) as worker:
        yield worker


async def leftovers(docket: Docket) -> list[bytes]:
    """Admission keys, and queued safeguards, that are still around."""
    async with docket.redis() as client:
        found = await client.keys(f"{docket.prefix}*concurrency*")
        found += await client.zrange(docket.queue_key, 0, -1)
        return sorted(found)


async def state_of(docket: Docket, key: str) -> ExecutionState | None:
    execution = await docket.get_execution(key)
    return None if execution is None else execution.state


async def job(label: str, limit: ConcurrencyLimit = ConcurrencyLimit()) -> str:
    """Holds the single slot until the test opens this label's gate (if it has one)."""
    gate = GATE.get(label)
    if gate is not None:
        await asyncio.wait_for(gate.wait(), 10)  # bounded, so a failure cannot hang
    return label


@pytest.fixture(autouse=True)
def gates() -> None:
    GATE.clear()
    GATE["holder"] = asyncio.Event()


async def park_behind_holder(docket: Docket, worker: Worker) -> asyncio.Future[None]:
    """Start the worker with 'holder' running and 'waiter' parked behind it."""
    docket.register(job)
    await docket.add(job, key="holder")("holder")
    await docket.add(job, key="waiter")("waiter")
    run = asyncio.ensure_future(worker.run_until_finished())

    async def parked() -> bool:
        execution = await docket.get_execution("waiter")
        return execution is not None and execution.state is ExecutionState.SCHEDULED

    await eventually(lambda: state_of(docket, "holder"), timeout=5)
    await eventually(parked)
    return run


async def test_a_parked_key_is_deduplicated(docket: Docket, worker: Worker):
    """Adding a key while it is parked returns ALREADY_SCHEDULED; it runs once."""
    run = await park_behind_holder(docket, worker)
    again = await docket.add(job, key="waiter")("second copy")
    assert again.disposition is Disposition.ALREADY_SCHEDULED
    GATE["holder"].set()
    await asyncio.wait_for(run, 15)
    waiter = await docket.get_execution("waiter")
    assert waiter is not None
    assert await waiter.get_result() == "waiter"
    assert await leftovers(docket) == []


async def test_a_cancelled_waiter_never_runs(docket: Docket, worker: Worker):
    """Cancelling a parked execution withdraws it: it ends CANCELLED, never runs."""
    ran: list[str] = []

    async def spy(label: str, limit: ConcurrencyLimit = ConcurrencyLimit()) -> None:
        ran.append(label)
        if label == "holder":
            await asyncio.wait_for(GATE["holder"].wait(), 10)

    docket.register(spy)
    await docket.add(spy, key="holder")("holder")
    waiter = await docket.add(spy, key="waiter")("waiter")
    run = asyncio.ensure_future(worker.run_until_finished())
    await eventually(lambda: ran == ["holder"])

    async def parked() -> bool:
        await waiter.sync()
        return waiter.state is ExecutionState.SCHEDULED

    await eventually(parked)
    await docket.cancel("waiter")
    await eventually(lambda: _no_safeguard(docket))
    GATE["holder"].set()
    await asyncio.wait_for(run, 15)
    assert ran == ["holder"]
    await waiter.sync()
    assert waiter.state is ExecutionState.CANCELLED
    assert await leftovers(docket) == []


async def _no_safeguard(docket: Docket) -> bool:
    async with docket.redis() as client:
        return not await client.zrange(docket.queue_key, 0, -1)


async def test_replacing_a_waiter_runs_only_the_replacement(
    docket: Docket, worker: Worker
):
    """replace() of a parked key supersedes the parked copy; the new one runs once."""
    run = await park_behind_holder(docket, worker)
    soon = datetime.now(timezone.utc) + timedelta(milliseconds=20)
    await docket.replace(job, when=soon, key="waiter")("replacement")
    GATE["holder"].set()
    await asyncio.wait_for(run, 15)
    waiter = await docket.get_execution("waiter")
    assert waiter is not None
    assert await waiter.get_result() == "replacement"
    assert await leftovers(docket) == []


async def test_park_and_wake_publish_state_events(docket: Docket, worker: Worker):
    """A waiter's subscriber sees running, scheduled (parked), queued (woken), ..."""
    docket.register(job)
    await docket.add(job, key="holder")("holder")
    waiter = await docket.add(job, key="waiter")("waiter")
    ready = asyncio.Event()
    seen: list[ExecutionState] = []

    async def watch() -> None:
        async for event in waiter.subscribe(ready=ready):
            if event["type"] == "state":
                seen.append(event["state"])  # type: ignore[typeddict-item]
                if event["state"] is ExecutionState.COMPLETED:  # type: ignore[typeddict-item]
                    return

    watcher = asyncio.ensure_future(watch())
    await asyncio.wait_for(ready.wait(), 5)
    run = asyncio.ensure_future(worker.run_until_finished())
    await eventually(lambda: ExecutionState.SCHEDULED in seen[1:])
    GATE["holder"].set()
    await asyncio.wait_for(watcher, 10)
    await asyncio.wait_for(run, 10)
    assert seen == [
        ExecutionState.QUEUED,  # the current state, when subscribing
        ExecutionState.RUNNING,  # claimed...
        ExecutionState.SCHEDULED,  # ...but the slot is taken: parked
        ExecutionState.QUEUED,  # woken when the holder finished
        ExecutionState.RUNNING,
        ExecutionState.COMPLETED,
    ]


async def test_holders_that_stop_renewing_are_evicted(
    docket: Docket, quick_worker: Worker
):
    """A slot held by a crashed worker (no renewals) is taken over after the timeout.

    The crashed holder is simulated by what it leaves behind: a member whose run
    is still 'running' but whose score stopped moving. Nothing will ever release it,
    so the parked task is woken by its safeguard task.
    """
    docket.register(job)
    slot = f"{docket.prefix}:concurrency:job"
    async with docket.redis() as client:
        await client.zadd(slot, {"phantom": time.time()})
        await client.hset(docket.runs_key("phantom"), mapping={"state": "running"})
    started = time.monotonic()
    execution = await docket.add(job, key="after-crash")("after-crash")
    await asyncio.wait_for(quick_worker.run_until_finished(), 15)
    assert await execution.get_result() == "after-crash"
    assert time.monotonic() - started >= 0.29  # not before the phantom went stale
    assert await leftovers(docket) == []


async def test_finished_holders_left_behind_are_evicted(docket: Docket, worker: Worker):
    """A member whose run is over (crash after the terminal write) frees its slot."""
    docket.register(job)
    slot = f"{docket.prefix}:concurrency:job"
    async with docket.redis() as client:
        await client.zadd(slot, {"finished": time.time()})
        await client.hset(docket.runs_key("finished"), mapping={"state": "completed"})
    execution = await docket.add(job)("next")
    await asyncio.wait_for(worker.run_until_finished(), 15)
    assert await execution.get_result() == "next"


async def test_safeguards_are_ordinary_tasks_of_the_docket(
    docket: Docket, worker: Worker
):
    """While a task is parked, its safeguard waits in the queue as __safeguard__:K."""
    run = await park_behind_holder(docket, worker)

    async def safeguards_placed() -> list[Any]:  # placed just after the park
        snapshot = await docket.snapshot()
        return [e for e in snapshot.future if e.key.startswith("__")]

    safeguards: list[Any] = await eventually(safeguards_placed)
    assert [(e.key, e.function_name) for e in safeguards] == [
        ("__safeguard__:waiter", "_safeguard_wake")
    ]
    assert safeguards[0].kwargs == {
        "waiter_stream": f"{docket.prefix}:concurrency:job:waiters",
        "max_concurrent": 1,
    }
    GATE["holder"].set()
    await asyncio.wait_for(run, 15)
    assert await leftovers(docket) == []


async def test_a_graceful_stop_finishes_holders_and_releases(
    docket: Docket, worker: Worker
):
    """Stopping a worker lets the running holder finish and give its slot back."""
    run = await park_behind_holder(docket, worker)
    run.cancel()  # a graceful shutdown request: in-flight work drains
    GATE["holder"].set()
    await asyncio.wait_for(run, 10)
    holder = await docket.get_execution("holder")
    assert holder is not None and holder.state is ExecutionState.COMPLETED
    async with docket.redis() as client:  # the holder left; the waiter has its turn
        slot = f"{docket.prefix}:concurrency:job"
        assert b"holder" not in await client.zrange(slot, 0, -1)
    await asyncio.wait_for(worker.run_until_finished(), 10)  # the waiter, later
    waiter = await docket.get_execution("waiter")
    assert waiter is not None and await waiter.get_result() == "waiter"


async def test_perpetual_successors_take_turns_with_the_limit(
    docket: Docket, worker: Worker
):
    """A perpetual task under a limit: each successor waits for its predecessor.

    The successor is scheduled before the predecessor's teardown gives the slot
    back, so it may park once before it runs; run_at_most counts both claims.
    """
    from docket import Perpetual

    runs: list[int] = []
    inside = 0

    async def tick(
        perpetual: Perpetual = Perpetual(every=timedelta(0)),
        limit: ConcurrencyLimit = ConcurrencyLimit(),
    ) -> None:
        nonlocal inside
        inside += 1
        assert inside == 1
        runs.append(len(runs))
        await asyncio.sleep(0)
        inside -= 1

    await docket.add(tick, key="tick")()
    await asyncio.wait_for(worker.run_at_most({"tick": 10}), 15)
    assert len(runs) >= 3
    assert runs == list(range(len(runs)))


async def test_fire_and_forget_dockets_limit_too(docket_url: str, docket_name: str):
    """With execution_ttl=0 (no terminal records) parking and waking still work."""
    inside, peak = 0, 0

    async def job(n: int, limit: ConcurrencyLimit = ConcurrencyLimit()) -> None:
        nonlocal inside, peak
        inside += 1
        peak = max(peak, inside)
        await asyncio.sleep(0.01)  # the work, so runs would overlap if allowed
        inside -= 1

    async with Docket(
        name=docket_name, url=docket_url, execution_ttl=timedelta(0)
    ) as docket:
        for n in range(5):
            await docket.add(job)(n)
        async with Worker(
            docket, minimum_check_interval=timedelta(milliseconds=5)
        ) as worker:
            await asyncio.wait_for(worker.run_until_finished(), 15)
        assert peak == 1
        assert await leftovers(docket) == []
