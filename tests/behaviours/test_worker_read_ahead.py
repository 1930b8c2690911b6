"""Reading ahead: while tasks are short, a worker holds a few messages beyond its
free slots, so the next batch is in hand when the current one settles. Those
messages are leased like running ones, never swept by another worker, run once
by the worker that read them (also on a graceful stop), and never read at all
while tasks are long."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from redis.exceptions import ResponseError

from docket import Docket, Worker
from docket._defaults import WORKER_GROUP
from docket._worker.session import wait_for
from tests._support.timings import FAST
from tests.conftest import eventually

ran: Counter[str] = Counter()
gates: list[asyncio.Event] = []


async def quick(label: str) -> None:
    ran[label] += 1


async def gated(label: str) -> None:
    ran[label] += 1
    await gates[0].wait()


async def slow(label: str) -> None:
    ran[label] += 1
    await asyncio.sleep(0.05)  # longer than READ_AHEAD_BELOW: the task is long


@pytest.fixture(autouse=True)
def reset() -> None:
    ran.clear()
    gates[:] = [asyncio.Event()]


def make_worker(docket: Docket, concurrency: int, name: str) -> Worker:
    return Worker(
        docket,
        name=name,
        concurrency=concurrency,
        redelivery_timeout=timedelta(milliseconds=300),
        **FAST,
    )


@asynccontextmanager
async def serving(worker: Worker) -> AsyncIterator[asyncio.Future[None]]:
    """The worker running forever in the background; stopped (gate opened) on exit."""
    async with worker:
        task = asyncio.ensure_future(worker.run_forever())
        try:
            yield task
        finally:
            gates[0].set()
            worker.stop()
            await asyncio.gather(task, return_exceptions=True)


async def held_by(docket: Docket, worker: Worker) -> int:
    """How many messages the worker's consumer holds in the group's pending list."""
    async with docket.redis() as client:
        try:
            rows: list[Any] = await client.xpending_range(
                docket.stream_key, WORKER_GROUP, "-", "+", 100, consumername=worker.name
            )
        except ResponseError:  # no consumer group yet: the worker is starting
            return 0
    return len(rows)


async def add_all(docket: Docket, *tasks: tuple[Any, str]) -> list[Any]:
    """Add every (function, key) in order, before any worker runs: a few quick
    tasks first teach the worker its tasks are short."""
    return [await docket.add(function, key=key)(key) for function, key in tasks]


WARM = [(quick, f"warm-{n}") for n in range(3)]


async def test_read_ahead_messages_are_leased_and_run_once_by_their_worker(
    docket: Docket,
):
    """With both slots busy, the worker reads two more messages ahead; it keeps
    renewing their leases, so a second worker sweeping after the redelivery timeout
    never takes them; they run once, on the worker that read them."""
    first, second = make_worker(docket, 2, "first"), make_worker(docket, 2, "second")
    gates_and_ahead = [(gated, "gate-0"), (gated, "gate-1")]
    gates_and_ahead += [(quick, "ahead-0"), (quick, "ahead-1")]
    added = await add_all(docket, *WARM, *gates_and_ahead)
    ahead = added[-2:]
    async with serving(first):
        await eventually(lambda: ran["gate-0"] and ran["gate-1"])
        await eventually(lambda: _equals(held_by(docket, first), 4))
        async with serving(second):
            await asyncio.sleep(1.0)  # past the redelivery timeout: nothing is swept
            assert await held_by(docket, second) == 0
            assert ran["ahead-0"] == ran["ahead-1"] == 0
            gates[0].set()
            await eventually(lambda: ran["ahead-0"] and ran["ahead-1"])
            for execution in ahead:
                await execution.sync()
                assert execution.worker == first.name
            await asyncio.sleep(0.5)  # anything run twice would show by now
    assert set(ran.values()) == {1}


async def test_a_graceful_stop_runs_what_was_read_ahead(docket: Docket):
    """A worker asked to stop still runs the message it read ahead (it holds it),
    and leaves nothing pending; messages it never read stay in the stream."""
    worker = make_worker(docket, 1, "stopping")
    await add_all(docket, *WARM, (gated, "gate"), (quick, "ahead"), (quick, "unread"))
    async with serving(worker) as task:
        await eventually(lambda: ran["gate"])
        await eventually(lambda: _equals(held_by(docket, worker), 2))
        worker.stop()
        gates[0].set()
        await asyncio.wait_for(task, 10)
    assert ran["ahead"] == 1 and ran["unread"] == 0
    assert await held_by(docket, worker) == 0
    assert (await docket.snapshot()).total_tasks == 1


async def test_long_tasks_read_nothing_ahead(docket: Docket):
    """Once tasks take longer than the read-ahead threshold, a busy worker holds
    only what it runs: a waiting message goes to the next free worker."""
    busy, free = make_worker(docket, 1, "busy"), make_worker(docket, 1, "free")
    async with serving(busy):
        await docket.add(slow, key="slow")("slow")
        await eventually(lambda: ran["slow"])
        await eventually(lambda: _equals(held_by(docket, busy), 0))
        await docket.add(gated, key="gate")("gate")
        await eventually(lambda: ran["gate"])
        waiting = await docket.add(quick, key="waiting")("waiting")
        async with serving(free):
            await eventually(lambda: ran["waiting"])
            await waiting.sync()
            assert waiting.worker == free.name


async def test_small_concurrency_settles_claims_and_reads_in_one_round_trip(
    docket: Docket, backend: str
):
    """Draining 1,000 no-op tasks at concurrency 10 takes about one round trip per
    batch of ten (settle, claim of the next batch and a read ahead go together),
    not three (read, claim, settle)."""
    if backend == "memory":
        pytest.skip("the embedded engine has no round trips to count")
    await docket.add_many([docket.call(quick)(f"n{n}") for n in range(1000)])

    async def reads() -> int:
        async with docket.redis() as client:
            return int((await client.info("stats"))["total_reads_processed"])

    # Long intervals for the periodic loops (leases, scheduling), so that what is
    # counted is the drain's own round trips, not how long a busy machine takes.
    worker = Worker(
        docket,
        name="draining",
        concurrency=10,
        redelivery_timeout=timedelta(seconds=30),
        minimum_check_interval=timedelta(milliseconds=5),
        scheduling_resolution=timedelta(seconds=30),
    )
    before = await reads()
    async with worker:
        await worker.run_until_finished()
    used = await reads() - before
    assert sum(ran.values()) == 1000
    # One per batch of ten is ~100, plus start and finish; three per batch would
    # be 300. A heavily loaded machine splits some batches, hence the margin.
    assert used < 220, used


async def _equals(value: Any, expected: int) -> bool:
    return await value == expected


async def test_a_cancelled_wait_is_never_lost():
    """The worker's loops wait on events with a timeout; a cancellation (a stop)
    that arrives just as the event is set must still end the wait, or the loop
    would wait for ever and the worker would never finish stopping."""
    event = asyncio.Event()
    waiting = asyncio.ensure_future(wait_for(event, 10))
    await asyncio.sleep(0)  # now waiting
    event.set()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert await wait_for(event, 0.01) is True
    assert await wait_for(asyncio.Event(), 0.01) is False
