"""The broker's contract, part 3: cancel, clear, pending_work and depths."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

import docket.docket as docket_module
from docket import Docket, ExecutionState
from tests.core._broker_helpers import (
    FINISHED,
    TTL,
    assert_ttl,
    claim_one,
    listener,
    pending_count,
    place,
    published,
    read_one,
    record,
    settlement,
)

# ---- cancel ---------------------------------------------------------------------------------


async def test_cancel_a_queued_task(docket: Docket, backend: str):
    """Cancel deletes a queued task's stream entry and writes a cancelled record."""
    broker = docket.broker
    await place(broker, "k")
    assert await broker.queue.cancel("k", FINISHED, TTL, signal=False) == "cancelled"
    assert await broker.client.xlen(broker.keys.stream) == 0
    run = await record(broker, "k")
    assert run["state"] == "cancelled"
    assert run["completed_at"] == FINISHED
    assert run["stream_id"] == ""
    await assert_ttl(broker, backend, broker.keys.runs("k"), TTL)


async def test_cancel_a_scheduled_task(docket: Docket):
    """Cancel removes a future task from the queue along with its parked hash."""
    broker = docket.broker
    await place(broker, "k", when=5000.0, immediate=False)
    assert await broker.queue.cancel("k", FINISHED, TTL, signal=False) == "cancelled"
    assert await broker.client.zcard(broker.keys.queue) == 0
    assert await broker.client.exists(broker.keys.parked("k")) == 0
    assert (await record(broker, "k"))["state"] == "cancelled"
    assert (await broker.queue.stream_due(9000.0)).moved == 0
    assert await broker.client.xlen(broker.keys.stream) == 0


async def test_cancel_a_running_task_signals_workers(docket: Docket):
    """Cancelling a running task marks it cancelled, drops progress and signals P:cancel:K."""
    broker = docket.broker
    await place(broker, "k")
    delivery = await read_one(broker)
    assert await claim_one(broker, "k", delivery)
    await broker.events.write_progress("k", {"current": 2})
    channel = broker.keys.cancel_channel("k")
    async with listener(broker, channel) as pubsub:
        assert await broker.queue.cancel("k", FINISHED, TTL, signal=True) == "cancelled"
        assert await published(broker, pubsub, channel) == ["k"]
    assert (await record(broker, "k"))["state"] == "cancelled"
    assert await broker.events.progress_record("k") == {}
    assert await pending_count(broker) == 1  # the worker settles and acks it


async def test_cancel_without_signal_publishes_nothing_on_the_cancel_channel(
    docket: Docket,
):
    """With ``signal=False`` no worker is told to stop the key."""
    broker = docket.broker
    await place(broker, "k")
    channel = broker.keys.cancel_channel("k")
    async with listener(broker, channel) as pubsub:
        await broker.queue.cancel("k", FINISHED, TTL, signal=False)
        assert await published(broker, pubsub, channel) == []


@pytest.mark.parametrize("final", ["completed", "failed"])
async def test_cancel_a_finished_task_keeps_its_state(
    docket: Docket, backend: str, final: str
):
    """Cancelling a finished task returns and keeps its final state, and extends its TTL."""
    broker = docket.broker
    await place(broker, "k")
    delivery = await read_one(broker)
    assert await claim_one(broker, "k", delivery)
    await broker.runs.settle([settlement("k", 1, delivery.message_id, final)], 5)
    assert (
        await broker.queue.cancel("k", "2030-01-01T00:00:00+00:00", TTL, False) == final
    )
    run = await record(broker, "k")
    assert run["state"] == final
    assert run["completed_at"] == FINISHED
    if backend == "redis":
        assert await broker.client.ttl(broker.keys.runs("k")) > 5


async def test_cancel_twice_keeps_the_first_timestamp(docket: Docket):
    """A second cancel reports "cancelled" and leaves the first completed_at."""
    broker = docket.broker
    await place(broker, "k")
    await broker.queue.cancel("k", FINISHED, TTL, signal=False)
    assert await broker.queue.cancel("k", "2030-01-01T00:00:00+00:00", TTL, False) == (
        "cancelled"
    )
    assert (await record(broker, "k"))["completed_at"] == FINISHED


async def test_cancel_a_missing_key_leaves_a_tombstone(docket: Docket, backend: str):
    """Cancelling an unknown key leaves a cancelled tombstone that expires; add still works."""
    broker = docket.broker
    assert (
        await broker.queue.cancel("ghost", FINISHED, TTL, signal=False) == "cancelled"
    )
    run = await record(broker, "ghost")
    assert run["state"] == "cancelled"
    assert run["completed_at"] == FINISHED
    await assert_ttl(broker, backend, broker.keys.runs("ghost"), TTL)
    assert await place(broker, "ghost") is True


async def test_cancel_with_zero_ttl_deletes_the_record(docket: Docket):
    """With TTL 0 cancel withdraws the task and deletes its record."""
    broker = docket.broker
    await place(broker, "k", when=5000.0, immediate=False)
    assert await broker.queue.cancel("k", FINISHED, 0, signal=False) == "cancelled"
    assert await broker.client.exists(broker.keys.runs("k")) == 0
    assert await broker.client.zcard(broker.keys.queue) == 0


# ---- clear, pending_work, depths -------------------------------------------------------------


async def test_clear_returns_the_count_and_frees_the_keys(docket: Docket, backend: str):
    """Clear withdraws stream and queued work, counts it, and the keys can be added again."""
    broker = docket.broker
    await place(broker, "now")
    await place(broker, "later", when=5000.0, immediate=False)
    await place(broker, "much-later", when=9000.0, immediate=False)
    assert await broker.runs.clear(TTL) == 3
    assert await broker.client.xlen(broker.keys.stream) == 0
    assert await broker.client.zcard(broker.keys.queue) == 0
    assert await broker.client.exists(broker.keys.parked("later")) == 0
    for key in ("now", "later", "much-later"):
        assert (await record(broker, key))["state"] == "cancelled"
        await assert_ttl(broker, backend, broker.keys.runs(key), TTL)
    assert await broker.queue.pending_work() is False
    assert await place(broker, "now") is True
    assert await place(broker, "later", when=5000.0, immediate=False) is True


async def test_clear_keeps_the_consumer_group(docket: Docket):
    """Clear trims the stream instead of deleting it, so the group survives."""
    broker = docket.broker
    await broker.ensure_group()
    await place(broker, "k")
    assert await broker.runs.clear(TTL) == 1
    assert len(await broker.client.xinfo_groups(broker.keys.stream)) == 1


async def test_clear_with_zero_ttl_deletes_the_records(docket: Docket):
    """With TTL 0 clear deletes the records of the withdrawn tasks."""
    broker = docket.broker
    await place(broker, "now")
    await place(broker, "later", when=5000.0, immediate=False)
    assert await broker.runs.clear(0) == 2
    assert await broker.runs.record("now") is None
    assert await broker.runs.record("later") is None


async def test_clear_of_an_empty_docket(docket: Docket):
    """Clearing nothing returns 0."""
    assert await docket.broker.runs.clear(TTL) == 0


async def test_clear_leaves_running_tasks_running(docket: Docket):
    """Running tasks continue through a clear: their record stays running, and their
    stream entry stays (a lease that expires must find it to redeliver the task)."""
    broker = docket.broker
    await place(broker, "running")
    delivery = await read_one(broker)
    assert await claim_one(broker, "running", delivery)
    await place(broker, "waiting")
    assert await broker.runs.clear(TTL) == 1
    assert (await record(broker, "running"))["state"] == "running"
    assert await place(broker, "running") is False
    async with docket.redis() as client:
        entries = await client.xrange(docket.stream_key)
    assert [fields[b"key"] for _, fields in entries] == [b"running"]


async def test_clear_reaches_past_more_running_tasks_than_a_batch(docket: Docket):
    """With more running tasks at the head of the stream than one script call
    withdraws, clear still withdraws the queued entries behind them."""
    broker = docket.broker
    for index in range(3):
        await place(broker, f"running-{index}")
        delivery = await read_one(broker)
        assert await claim_one(broker, f"running-{index}", delivery)
    await place(broker, "queued-a")
    await place(broker, "queued-b")
    assert await broker.runs.clear(TTL, batch=2) == 2
    assert (await record(broker, "queued-a"))["state"] == "cancelled"
    async with docket.redis() as client:
        assert await client.xlen(docket.stream_key) == 3


async def test_pending_work_sees_stream_and_queue(docket: Docket):
    """pending_work is true while anything waits in the stream or the future queue."""
    broker = docket.broker
    assert await broker.queue.pending_work() is False
    await place(broker, "later", when=time.time() + 3600, immediate=False)
    assert await broker.queue.pending_work() is True
    await broker.queue.cancel("later", FINISHED, TTL, signal=False)
    assert await broker.queue.pending_work() is False
    await place(broker, "now")
    assert await broker.queue.pending_work() is True


async def test_depths_split_ready_and_future_work(docket: Docket):
    """depths() counts stream entries plus overdue queued tasks as ready, the rest as future."""
    broker = docket.broker
    assert await broker.queue.depths() == (0, 0)
    await place(broker, "now")
    await place(broker, "overdue", when=time.time() - 60, immediate=False)
    await place(broker, "future", when=time.time() + 3600, immediate=False)
    assert await broker.queue.depths() == (2, 1)


async def test_clear_works_through_the_docket_in_batches(
    docket: Docket, monkeypatch: pytest.MonkeyPatch
):
    """With ``docket.docket.CLEAR_BATCH`` at 2 (read at each call, as in pydocket),
    clear() withdraws queued and future tasks two per script call until none is
    left, and counts them all."""
    monkeypatch.setattr(docket_module, "CLEAR_BATCH", 2)
    calls: list[int] = []
    clear_call = type(docket.broker).run_script

    async def counting(self: object, script: object, *args: object) -> object:
        if getattr(script, "name", "") == "clear":
            calls.append(1)
        return await clear_call(self, script, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(type(docket.broker), "run_script", counting)

    async def noop() -> None: ...

    later = time.time() + 3600
    for n in range(5):
        await docket.add(noop, key=f"queued-{n}")()
        await docket.add(
            noop, when=datetime.fromtimestamp(later, timezone.utc), key=f"later-{n}"
        )()
    assert await docket.clear() == 10
    assert len(calls) == 6  # five full batches, then one that finds nothing
    snapshot = await docket.snapshot()
    assert (snapshot.future, snapshot.running) == ([], [])
    for kind in ("queued", "later"):
        for n in range(5):
            execution = await docket.get_execution(f"{kind}-{n}")
            assert execution is not None
            assert execution.state is ExecutionState.CANCELLED
