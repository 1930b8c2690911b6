"""The broker's contract, part 1: schedule and stream_due."""

from __future__ import annotations

import json
import time

import pytest

from docket import Docket
from docket._codec import Codec
from tests.core._broker_helpers import (
    FINISHED,
    TTL,
    assert_ttl,
    claim_one,
    generation_of,
    listener,
    pending_count,
    place,
    published,
    read_one,
    record,
    settlement,
    stream_ids,
)

dumps = Codec().encode

# ---- schedule ---------------------------------------------------------------------


async def test_schedule_immediate_adds_a_stream_entry_and_a_queued_record(
    docket: Docket,
):
    """An immediate schedule XADDs the message and records state, stream id and payload."""
    broker = docket.broker
    assert await place(broker, "k", when=1000.0, args=(1, 2)) is True
    (entry_id,) = await stream_ids(broker)
    entries = await broker.client.xrange(broker.keys.stream, "-", "+")
    assert entries[0][1][b"key"] == b"k"
    assert entries[0][1][b"generation"] == b"1"
    run = await broker.runs.record("k")
    assert run is not None
    assert run.state == "queued"
    assert run.generation == 1
    assert run.stream_id == entry_id.decode()
    assert run.function == "trace"
    assert run.args == dumps((1, 2))
    assert run.kwargs == dumps({})
    assert run.when == 1000.0
    assert await broker.client.zcard(broker.keys.queue) == 0


async def test_schedule_future_parks_the_task_in_the_queue(docket: Docket):
    """A future schedule ZADDs the key at ``when`` and parks the message at P:K."""
    broker = docket.broker
    assert await place(broker, "later", when=5000.0, immediate=False) is True
    assert await broker.client.zscore(broker.keys.queue, "later") == 5000.0
    parked = await broker.client.hgetall(broker.keys.parked("later"))
    assert parked[b"key"] == b"later"
    assert parked[b"generation"] == b"1"
    run = await record(broker, "later")
    assert run["state"] == "scheduled"
    assert "stream_id" not in run
    assert await broker.client.xlen(broker.keys.stream) == 0


@pytest.mark.parametrize("live", ["scheduled", "queued", "running"])
async def test_add_on_a_live_key_returns_false_and_changes_nothing(
    docket: Docket, live: str
):
    """Mode "add" refuses a key whose record is scheduled, queued or running."""
    broker = docket.broker
    await place(broker, "k", when=5000.0, immediate=live != "scheduled")
    if live == "running":
        assert await claim_one(broker, "k", await read_one(broker))
    before = await broker.runs.record("k")
    stream_before = await stream_ids(broker)
    assert await place(broker, "k", args=("again",)) is False
    assert await broker.runs.record("k") == before
    assert await stream_ids(broker) == stream_before
    assert await broker.client.zcard(broker.keys.queue) == (live == "scheduled")


@pytest.mark.parametrize("final", ["completed", "failed", "cancelled"])
async def test_add_after_a_terminal_record_starts_a_fresh_one(
    docket: Docket, backend: str, final: str
):
    """A finished key can be added again: new generation, old fields and TTL gone."""
    broker = docket.broker
    await place(broker, "k")
    delivery = await read_one(broker)
    assert await claim_one(broker, "k", delivery)
    await broker.runs.settle(
        [settlement("k", 1, delivery.message_id, final, "boom", stored_result=True)],
        TTL,
    )
    assert await place(broker, "k", immediate=False, when=5000.0) is True
    run = await record(broker, "k")
    assert run["state"] == "scheduled"
    assert run["generation"] == "2"
    for stale in ("completed_at", "error", "result_key", "worker", "started_at"):
        assert stale not in run
    await assert_ttl(broker, backend, broker.keys.runs("k"), None)


async def test_replace_removes_the_old_stream_entry(docket: Docket):
    """Replacing a queued key deletes its stream entry: one message remains."""
    broker = docket.broker
    await place(broker, "k", args=("old",))
    (old_id,) = await stream_ids(broker)
    assert await place(broker, "k", mode="replace", args=("new",)) is True
    (new_id,) = await stream_ids(broker)
    assert new_id != old_id
    entries = await broker.client.xrange(broker.keys.stream, "-", "+")
    assert entries[0][1][b"args"] == dumps(("new",))
    assert entries[0][1][b"generation"] == b"2"
    run = await broker.runs.record("k")
    assert run is not None
    assert run.stream_id == new_id.decode()
    assert run.args == dumps(("new",))


async def test_replace_removes_the_queue_entry_and_parked_hash(docket: Docket):
    """Replacing a scheduled key with an immediate one unparks it fully."""
    broker = docket.broker
    await place(broker, "k", when=5000.0, immediate=False)
    assert await place(broker, "k", mode="replace") is True
    assert await broker.client.zcard(broker.keys.queue) == 0
    assert await broker.client.exists(broker.keys.parked("k")) == 0
    assert await broker.client.xlen(broker.keys.stream) == 1
    assert (await record(broker, "k"))["state"] == "queued"


async def test_replace_of_a_future_task_moves_it_and_rewrites_the_parked_hash(
    docket: Docket,
):
    """Future -> future replace updates the queue score and the parked message."""
    broker = docket.broker
    await place(broker, "k", when=5000.0, immediate=False, args=("old",))
    await place(
        broker, "k", when=7000.0, immediate=False, mode="replace", args=("new",)
    )
    assert await broker.client.zrange(broker.keys.queue, 0, -1, withscores=True) == [
        (b"k", 7000.0)
    ]
    parked = await broker.client.hgetall(broker.keys.parked("k"))
    assert parked[b"args"] == dumps(("new",))
    assert parked[b"generation"] == b"2"


async def test_replace_of_a_missing_key_places_it(docket: Docket):
    """Replace works like add when nothing was scheduled under the key."""
    broker = docket.broker
    assert await place(broker, "fresh", mode="replace") is True
    assert (await record(broker, "fresh"))["generation"] == "1"


async def test_generation_increments_on_every_placement(docket: Docket):
    """Each add/replace bumps the record's generation and stamps it on the message."""
    broker = docket.broker
    await place(broker, "k", when=5000.0, immediate=False)
    for expected in (2, 3, 4):
        await place(broker, "k", when=5000.0, immediate=False, mode="replace")
        assert (await record(broker, "k"))["generation"] == str(expected)
        parked = await broker.client.hget(broker.keys.parked("k"), "generation")
        assert parked == str(expected).encode()


async def test_reschedule_acks_and_deletes_the_given_message(docket: Docket):
    """Mode "reschedule" acknowledges and deletes the running message it replaces."""
    broker = docket.broker
    await place(broker, "k")
    delivery = await read_one(broker)
    assert await claim_one(broker, "k", delivery)
    assert await pending_count(broker) == 1
    placed = await place(
        broker,
        "k",
        when=5000.0,
        immediate=False,
        mode="reschedule",
        reschedule_from=delivery.message_id,
    )
    assert placed is True
    assert await pending_count(broker) == 0
    assert await broker.client.xlen(broker.keys.stream) == 0
    assert await broker.client.zscore(broker.keys.queue, "k") == 5000.0
    run = await record(broker, "k")
    assert run["state"] == "scheduled"
    assert run["generation"] == "2"
    assert "worker" not in run


async def test_reschedule_of_a_superseded_run_leaves_the_successor_alone(
    docket: Docket,
):
    """A reschedule from a replaced run only acks its message; the successor stays."""
    broker = docket.broker
    await place(broker, "k", args=("old",))
    delivery = await read_one(broker)
    assert await claim_one(broker, "k", delivery)
    await place(
        broker, "k", when=5000.0, immediate=False, mode="replace", args=("new",)
    )
    successor = await broker.runs.record("k")
    parked = await broker.client.hgetall(broker.keys.parked("k"))
    await place(
        broker,
        "k",
        mode="reschedule",
        reschedule_from=delivery.message_id,
        generation=generation_of(delivery),
        args=("old",),
    )
    assert await pending_count(broker) == 0  # its own message is still acknowledged
    assert await broker.runs.record("k") == successor
    assert await broker.client.hgetall(broker.keys.parked("k")) == parked
    assert await broker.client.xlen(broker.keys.stream) == 0


async def test_schedule_publishes_wake_only_for_a_new_earliest_task(docket: Docket):
    """The wake channel hears a future placement only when it becomes the earliest."""
    broker = docket.broker
    async with listener(broker, broker.keys.wake) as pubsub:
        await place(broker, "b", when=2000.0, immediate=False)
        await place(broker, "c", when=3000.0, immediate=False)
        await place(broker, "a", when=1000.0, immediate=False)
        await place(broker, "now")
        heard = await published(broker, pubsub, broker.keys.wake)
    assert [float(p) for p in heard] == [2000.0, 1000.0]


# ---- stream_due -------------------------------------------------------------------------


async def test_stream_due_moves_only_due_tasks(docket: Docket):
    """Due tasks move to the stream with their stream id recorded; others stay parked."""
    broker = docket.broker
    await place(broker, "due", when=1000.0, immediate=False, args=("d",))
    await place(broker, "later", when=3000.0, immediate=False)
    result = await broker.queue.stream_due(2000.0)
    assert result.moved == 1
    assert result.next_due == 3000.0
    entries = await broker.client.xrange(broker.keys.stream, "-", "+")
    assert len(entries) == 1
    entry_id, moved = entries[0]
    assert moved[b"key"] == b"due"
    assert moved[b"args"] == dumps(("d",))
    assert moved[b"generation"] == b"1"
    run = await broker.runs.record("due")
    assert run is not None
    assert run.state == "queued"
    assert run.stream_id == entry_id.decode()
    assert await broker.client.exists(broker.keys.parked("due")) == 0
    assert await broker.client.zrange(broker.keys.queue, 0, -1) == [b"later"]
    assert await broker.client.exists(broker.keys.parked("later")) == 1
    assert (await record(broker, "later"))["state"] == "scheduled"


async def test_stream_due_on_an_empty_queue(docket: Docket):
    """With nothing queued, nothing moves and there is no next due time."""
    result = await docket.broker.queue.stream_due(time.time())
    assert result.moved == 0
    assert result.next_due is None


async def test_stream_due_respects_its_batch_limit(docket: Docket):
    """At most ``limit`` tasks move per call; the next due is the first one left."""
    broker = docket.broker
    for i, key in enumerate(("a", "b", "c")):
        await place(broker, key, when=1000.0 + i, immediate=False)
    result = await broker.queue.stream_due(2000.0, limit=2)
    assert (result.moved, result.next_due) == (2, 1002.0)
    result = await broker.queue.stream_due(2000.0, limit=2)
    assert (result.moved, result.next_due) == (1, None)
    assert await broker.client.xlen(broker.keys.stream) == 3


async def test_a_moved_task_can_still_be_cancelled_before_its_claim(docket: Docket):
    """The recorded stream id lets cancel delete a moved, unclaimed message (12.2 #10a)."""
    broker = docket.broker
    await place(broker, "k", when=1000.0, immediate=False)
    await broker.queue.stream_due(2000.0)
    assert await broker.queue.cancel("k", FINISHED, TTL, signal=False) == "cancelled"
    assert await broker.client.xlen(broker.keys.stream) == 0


async def test_schedule_events_carry_the_key_state_and_message_time(docket: Docket):
    """schedule.lua builds its state event itself: valid JSON for any key, the state
    it placed the task in, and the ``when`` of the message it wrote."""
    broker = docket.broker
    key = 'odd "key" \x1b[1m\\ \x00'
    channel = broker.keys.state_channel(key)
    await broker.events.mark_listening(60)
    async with listener(broker, channel) as pubsub:
        await place(broker, key, when=5000.0, immediate=False)
        await broker.queue.cancel(key, FINISHED, TTL, signal=False)
        await place(broker, key)
        payloads = await published(broker, pubsub, channel)
    events = [json.loads(p) for p in payloads]
    assert [e["state"] for e in events] == ["scheduled", "cancelled", "queued"]
    for event in (events[0], events[2]):
        assert event == {
            "type": "state",
            "key": key,
            "state": event["state"],
            "when": "2026-01-01T00:00:00+00:00",
        }
