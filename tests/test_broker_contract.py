"""The broker's contract: every operation and every Lua script, on both backends.

These tests talk to ``docket._broker`` directly (the operations seam), so they pin
what each script does to the keyspace, independently of the worker built on it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest

from docket import Docket
from docket._broker import Broker, Delivery, Settlement
from docket._codec import dumps, state_event

from .conftest import eventually

TTL = 60
STARTED = "2026-01-01T00:00:00+00:00"
FINISHED = "2026-01-01T00:00:01+00:00"


# ---- helpers --------------------------------------------------------------------


def fields_for(
    key: str, args: tuple[Any, ...] = (), when: str = STARTED, generation: int = 0
) -> dict[bytes, bytes]:
    """A task message as Execution.as_message() builds it.

    ``generation`` is the generation of the execution being (re)scheduled; the
    script writes the new one into the stored message.
    """
    return {
        b"key": key.encode(),
        b"when": when.encode(),
        b"function": b"trace",
        b"args": dumps(args),
        b"kwargs": dumps({}),
        b"attempt": b"1",
        b"generation": str(generation).encode(),
    }


async def place(
    broker: Broker,
    key: str,
    *,
    when: float | None = None,
    immediate: bool = True,
    mode: str = "add",
    args: tuple[Any, ...] = (),
    reschedule_from: bytes | None = None,
    generation: int = 0,
) -> bool:
    """Run the schedule script for ``key`` with a minimal message."""
    when = time.time() if when is None else when
    state = "queued" if immediate else "scheduled"
    status = await broker.schedule(
        key,
        when,
        immediate,
        mode,
        fields_for(key, args, generation=generation),
        state_event(key, state, when=str(when)),
        reschedule_from,
    )
    return status == "OK"


async def read_one(broker: Broker, consumer: str = "w1") -> Delivery:
    """Read exactly one message for ``consumer`` (creating the group if needed)."""
    await broker.ensure_group()
    deliveries = await broker.read(consumer, 10, 10)
    assert len(deliveries) == 1
    return deliveries[0]


def generation_of(delivery: Delivery) -> int:
    return int(delivery.fields[b"generation"])


async def claim_one(broker: Broker, key: str, delivery: Delivery) -> bool:
    (claimed,) = await broker.claim(
        "w1", STARTED, [(key, generation_of(delivery), delivery.message_id, False)]
    )
    return claimed


def settlement(
    key: str,
    generation: int,
    message_id: bytes | None,
    state: str = "completed",
    error: str = "",
    stored_result: bool = False,
    wrote_progress: bool = False,
) -> Settlement:
    return Settlement(
        key=key,
        generation=generation,
        message_id=message_id,
        state=state,
        completed_at=FINISHED,
        error=error,
        stored_result=stored_result,
        wrote_progress=wrote_progress,
    )


async def record(broker: Broker, key: str) -> dict[str, str]:
    raw = await broker.run_record(key)
    return {name.decode(): value.decode("latin-1") for name, value in raw.items()}


async def pending_count(broker: Broker) -> int:
    return int(
        (await broker.client.xpending(broker.keys.stream, broker.group))["pending"]
    )


async def stream_ids(broker: Broker) -> list[bytes]:
    return [mid for mid, _ in await broker.client.xrange(broker.keys.stream, "-", "+")]


async def assert_ttl(
    broker: Broker, backend: str, key: str, expected: int | None
) -> None:
    """On real Redis, check the TTL of ``key`` (None: no TTL). memory:// is skipped."""
    if backend != "redis":
        return
    ttl = await broker.client.ttl(key)
    if expected is None:
        assert ttl == -1
    else:
        assert 0 < ttl <= expected


@asynccontextmanager
async def listener(broker: Broker, *channels: str) -> AsyncIterator[Any]:
    """A raw subscriber on ``channels``: it does *not* set the listening flag."""
    pubsub = broker.subscriber()
    await pubsub.subscribe(*channels)
    confirmed = 0
    while confirmed < len(channels):
        message = await pubsub.get_message(timeout=1.0)
        if message is not None and message["type"] == "subscribe":
            confirmed += 1
    try:
        yield pubsub
    finally:
        await pubsub.unsubscribe()
        await pubsub.aclose()


async def published(broker: Broker, pubsub: Any, channel: str) -> list[str]:
    """Everything published on the subscribed channels so far.

    A sentinel is published on ``channel`` after the operations under test, so every
    earlier message has arrived once the sentinel has: no waiting on a clock.
    """
    sentinel = "--sentinel--"
    await broker.client.publish(channel, sentinel)
    seen: list[str] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
        if message is None:
            continue
        data = message["data"]
        text = data.decode() if isinstance(data, bytes) else data
        if text == sentinel:
            return seen
        seen.append(text)
    raise AssertionError("the sentinel never arrived")


def states(payloads: Sequence[str]) -> list[str]:
    return [json.loads(p)["state"] for p in payloads]


# ---- schedule ---------------------------------------------------------------------


async def test_schedule_immediate_adds_a_stream_entry_and_a_queued_record(
    docket: Docket,
):
    """An immediate schedule XADDs the message and records state, stream id and payload."""
    broker = docket._broker
    assert await place(broker, "k", when=1000.0, args=(1, 2)) is True
    (entry_id,) = await stream_ids(broker)
    entries = await broker.client.xrange(broker.keys.stream, "-", "+")
    assert entries[0][1][b"key"] == b"k"
    assert entries[0][1][b"generation"] == b"1"
    run = await broker.run_record("k")
    assert run[b"state"] == b"queued"
    assert run[b"generation"] == b"1"
    assert run[b"stream_id"] == entry_id
    assert run[b"function"] == b"trace"
    assert run[b"args"] == dumps((1, 2))
    assert run[b"kwargs"] == dumps({})
    assert float(run[b"when"]) == 1000.0
    assert await broker.client.zcard(broker.keys.queue) == 0


async def test_schedule_future_parks_the_task_in_the_queue(docket: Docket):
    """A future schedule ZADDs the key at ``when`` and parks the message at P:K."""
    broker = docket._broker
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
    broker = docket._broker
    await place(broker, "k", when=5000.0, immediate=live != "scheduled")
    if live == "running":
        assert await claim_one(broker, "k", await read_one(broker))
    before = await broker.run_record("k")
    stream_before = await stream_ids(broker)
    assert await place(broker, "k", args=("again",)) is False
    assert await broker.run_record("k") == before
    assert await stream_ids(broker) == stream_before
    assert await broker.client.zcard(broker.keys.queue) == (live == "scheduled")


@pytest.mark.parametrize("final", ["completed", "failed", "cancelled"])
async def test_add_after_a_terminal_record_starts_a_fresh_one(
    docket: Docket, backend: str, final: str
):
    """A finished key can be added again: new generation, old fields and TTL gone."""
    broker = docket._broker
    await place(broker, "k")
    delivery = await read_one(broker)
    assert await claim_one(broker, "k", delivery)
    await broker.settle(
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
    broker = docket._broker
    await place(broker, "k", args=("old",))
    (old_id,) = await stream_ids(broker)
    assert await place(broker, "k", mode="replace", args=("new",)) is True
    (new_id,) = await stream_ids(broker)
    assert new_id != old_id
    entries = await broker.client.xrange(broker.keys.stream, "-", "+")
    assert entries[0][1][b"args"] == dumps(("new",))
    assert entries[0][1][b"generation"] == b"2"
    run = await broker.run_record("k")
    assert run[b"stream_id"] == new_id
    assert run[b"args"] == dumps(("new",))


async def test_replace_removes_the_queue_entry_and_parked_hash(docket: Docket):
    """Replacing a scheduled key with an immediate one unparks it fully."""
    broker = docket._broker
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
    broker = docket._broker
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
    broker = docket._broker
    assert await place(broker, "fresh", mode="replace") is True
    assert (await record(broker, "fresh"))["generation"] == "1"


async def test_generation_increments_on_every_placement(docket: Docket):
    """Each add/replace bumps the record's generation and stamps it on the message."""
    broker = docket._broker
    await place(broker, "k", when=5000.0, immediate=False)
    for expected in (2, 3, 4):
        await place(broker, "k", when=5000.0, immediate=False, mode="replace")
        assert (await record(broker, "k"))["generation"] == str(expected)
        parked = await broker.client.hget(broker.keys.parked("k"), "generation")
        assert parked == str(expected).encode()


async def test_reschedule_acks_and_deletes_the_given_message(docket: Docket):
    """Mode "reschedule" acknowledges and deletes the running message it replaces."""
    broker = docket._broker
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
    broker = docket._broker
    await place(broker, "k", args=("old",))
    delivery = await read_one(broker)
    assert await claim_one(broker, "k", delivery)
    await place(
        broker, "k", when=5000.0, immediate=False, mode="replace", args=("new",)
    )
    successor = await broker.run_record("k")
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
    assert await broker.run_record("k") == successor
    assert await broker.client.hgetall(broker.keys.parked("k")) == parked
    assert await broker.client.xlen(broker.keys.stream) == 0


async def test_schedule_publishes_wake_only_for_a_new_earliest_task(docket: Docket):
    """The wake channel hears a future placement only when it becomes the earliest."""
    broker = docket._broker
    async with listener(broker, broker.keys.wake) as pubsub:
        await place(broker, "b", when=2000.0, immediate=False)
        await place(broker, "c", when=3000.0, immediate=False)
        await place(broker, "a", when=1000.0, immediate=False)
        await place(broker, "now")
        heard = await published(broker, pubsub, broker.keys.wake)
    assert [float(p) for p in heard] == [2000.0, 1000.0]


# ---- claim ----------------------------------------------------------------------------


async def test_claim_marks_the_record_running(docket: Docket):
    """A current message is claimed: state running, worker, started_at, no stream id."""
    broker = docket._broker
    await place(broker, "k")
    delivery = await read_one(broker)
    (claimed,) = await broker.claim(
        "worker-a", STARTED, [("k", 1, delivery.message_id, False)]
    )
    assert claimed is True
    run = await record(broker, "k")
    assert run["state"] == "running"
    assert run["worker"] == "worker-a"
    assert run["started_at"] == STARTED
    assert run["stream_id"] == ""
    assert await pending_count(broker) == 1  # still held until settled


async def test_claim_supersedes_stale_generations_and_acknowledges_them(
    docket: Docket,
):
    """A message older than the record's generation is refused, acked and deleted."""
    broker = docket._broker
    await place(broker, "k")
    old = await read_one(broker)
    await place(broker, "k", when=5000.0, immediate=False, mode="replace")
    (claimed,) = await broker.claim("w1", STARTED, [("k", 1, old.message_id, False)])
    assert claimed is False
    assert await pending_count(broker) == 0
    assert await broker.client.xlen(broker.keys.stream) == 0
    run = await record(broker, "k")
    assert run["state"] == "scheduled"  # the successor's record is untouched
    assert run["generation"] == "2"


async def test_claim_refuses_a_cancelled_record(docket: Docket):
    """A delivered message whose key was cancelled before the claim never runs."""
    broker = docket._broker
    await place(broker, "k")
    delivery = await read_one(broker)
    await broker.cancel("k", FINISHED, TTL, signal=False)
    assert await claim_one(broker, "k", delivery) is False
    assert await pending_count(broker) == 0
    assert (await record(broker, "k"))["state"] == "cancelled"


async def test_claim_answers_per_message_in_a_batch(docket: Docket):
    """A batch claim returns one verdict per message, in order."""
    broker = docket._broker
    await place(broker, "stale")
    await place(broker, "fresh")
    await broker.ensure_group()
    deliveries = await broker.read("w1", 10, 10)
    assert [d.fields[b"key"] for d in deliveries] == [b"stale", b"fresh"]
    await place(broker, "stale", mode="replace")
    verdicts = await broker.claim(
        "w1",
        STARTED,
        [
            ("stale", 1, deliveries[0].message_id, False),
            ("fresh", 1, deliveries[1].message_id, False),
        ],
    )
    assert verdicts == [False, True]
    assert await pending_count(broker) == 1


async def test_claim_of_a_redelivered_message_drops_old_progress(docket: Docket):
    """A redelivered claim deletes the progress hash left by the crashed run."""
    broker = docket._broker
    await place(broker, "k")
    delivery = await read_one(broker)
    assert await claim_one(broker, "k", delivery)
    await broker.write_progress("k", {"current": 5, "message": "half"})
    (claimed,) = await broker.claim(
        "w2", STARTED, [("k", 1, delivery.message_id, True)]
    )
    assert claimed is True
    assert await broker.progress_record("k") == {}
    assert (await record(broker, "k"))["worker"] == "w2"


# ---- settle -------------------------------------------------------------------------------


async def test_settle_writes_the_final_state_and_acknowledges(
    docket: Docket, backend: str
):
    """Settle writes state, completed_at, result_key and the TTL, and acks the message."""
    broker = docket._broker
    await place(broker, "k")
    delivery = await read_one(broker)
    assert await claim_one(broker, "k", delivery)
    superseded = await broker.settle(
        [settlement("k", 1, delivery.message_id, stored_result=True)], TTL
    )
    assert superseded == 0
    run = await record(broker, "k")
    assert run["state"] == "completed"
    assert run["completed_at"] == FINISHED
    assert run["result_key"] == "k"
    assert "error" not in run
    assert await pending_count(broker) == 0
    assert await broker.client.xlen(broker.keys.stream) == 0
    await assert_ttl(broker, backend, broker.keys.runs("k"), TTL)


async def test_settle_records_the_error_of_a_failure(docket: Docket, backend: str):
    """A failed settlement stores its error text; no result_key without the flag."""
    broker = docket._broker
    await place(broker, "k")
    delivery = await read_one(broker)
    assert await claim_one(broker, "k", delivery)
    await broker.settle(
        [settlement("k", 1, delivery.message_id, "failed", "ValueError: boom")], TTL
    )
    run = await record(broker, "k")
    assert run["state"] == "failed"
    assert run["error"] == "ValueError: boom"
    assert "result_key" not in run
    await assert_ttl(broker, backend, broker.keys.runs("k"), TTL)


async def test_settle_with_zero_ttl_deletes_the_record(docket: Docket):
    """With TTL 0 (fire-and-forget) the run record is deleted at settlement."""
    broker = docket._broker
    await place(broker, "k")
    delivery = await read_one(broker)
    assert await claim_one(broker, "k", delivery)
    await broker.write_progress("k", {"current": 1})
    assert await broker.settle([settlement("k", 1, delivery.message_id)], 0) == 0
    assert await broker.client.exists(broker.keys.runs("k")) == 0
    assert await pending_count(broker) == 0


async def test_settle_deletes_the_progress_hash_when_flagged(docket: Docket):
    """The "p" flag makes settle delete the execution's progress hash."""
    broker = docket._broker
    await place(broker, "k")
    delivery = await read_one(broker)
    assert await claim_one(broker, "k", delivery)
    await broker.write_progress("k", {"current": 3, "generation": 1})
    await broker.settle(
        [settlement("k", 1, delivery.message_id, wrote_progress=True)], TTL
    )
    assert await broker.progress_record("k") == {}


async def test_settle_leaves_a_successors_record_alone(docket: Docket, backend: str):
    """A run replaced while it ran is counted superseded and its successor is untouched."""
    broker = docket._broker
    await place(broker, "k")
    delivery = await read_one(broker)
    assert await claim_one(broker, "k", delivery)
    await place(broker, "k", when=5000.0, immediate=False, mode="replace")
    successor = await broker.run_record("k")
    superseded = await broker.settle(
        [settlement("k", 1, delivery.message_id, "failed", "late")], TTL
    )
    assert superseded == 1
    assert await broker.run_record("k") == successor
    assert await pending_count(broker) == 0  # its own message is still acknowledged
    await assert_ttl(broker, backend, broker.keys.runs("k"), None)


async def test_superseded_settle_keeps_the_successors_progress(docket: Docket):
    """A superseded run deletes progress only if the hash's generation tag is not newer."""
    broker = docket._broker
    await place(broker, "k")
    delivery = await read_one(broker)
    assert await claim_one(broker, "k", delivery)
    await place(broker, "k", mode="replace")
    await broker.write_progress("k", {"current": 7, "generation": 2})
    await broker.settle(
        [settlement("k", 1, delivery.message_id, wrote_progress=True)], TTL
    )
    assert (await broker.progress_record("k"))[b"current"] == b"7"

    await broker.write_progress("k", {"generation": 1})  # its own, stale hash
    await broker.settle([settlement("k", 1, None, wrote_progress=True)], TTL)
    assert await broker.progress_record("k") == {}


async def test_settle_batches_several_executions(docket: Docket):
    """One settle call finishes a batch and reports how many were superseded."""
    broker = docket._broker
    for key in ("a", "b"):
        await place(broker, key)
    await broker.ensure_group()
    a, b = await broker.read("w1", 10, 10)
    await broker.claim(
        "w1", STARTED, [("a", 1, a.message_id, False), ("b", 1, b.message_id, False)]
    )
    await place(broker, "b", when=5000.0, immediate=False, mode="replace")
    superseded = await broker.settle(
        [settlement("a", 1, a.message_id), settlement("b", 1, b.message_id)], TTL
    )
    assert superseded == 1
    assert (await record(broker, "a"))["state"] == "completed"
    assert (await record(broker, "b"))["state"] == "scheduled"
    assert await pending_count(broker) == 0


# ---- stream_due -------------------------------------------------------------------------


async def test_stream_due_moves_only_due_tasks(docket: Docket):
    """Due tasks move to the stream with their stream id recorded; others stay parked."""
    broker = docket._broker
    await place(broker, "due", when=1000.0, immediate=False, args=("d",))
    await place(broker, "later", when=3000.0, immediate=False)
    result = await broker.stream_due(2000.0)
    assert result.moved == 1
    assert result.next_due == 3000.0
    entries = await broker.client.xrange(broker.keys.stream, "-", "+")
    assert len(entries) == 1
    entry_id, moved = entries[0]
    assert moved[b"key"] == b"due"
    assert moved[b"args"] == dumps(("d",))
    assert moved[b"generation"] == b"1"
    run = await broker.run_record("due")
    assert run[b"state"] == b"queued"
    assert run[b"stream_id"] == entry_id
    assert await broker.client.exists(broker.keys.parked("due")) == 0
    assert await broker.client.zrange(broker.keys.queue, 0, -1) == [b"later"]
    assert await broker.client.exists(broker.keys.parked("later")) == 1
    assert (await record(broker, "later"))["state"] == "scheduled"


async def test_stream_due_on_an_empty_queue(docket: Docket):
    """With nothing queued, nothing moves and there is no next due time."""
    result = await docket._broker.stream_due(time.time())
    assert result.moved == 0
    assert result.next_due is None


async def test_stream_due_respects_its_batch_limit(docket: Docket):
    """At most ``limit`` tasks move per call; the next due is the first one left."""
    broker = docket._broker
    for i, key in enumerate(("a", "b", "c")):
        await place(broker, key, when=1000.0 + i, immediate=False)
    result = await broker.stream_due(2000.0, limit=2)
    assert (result.moved, result.next_due) == (2, 1002.0)
    result = await broker.stream_due(2000.0, limit=2)
    assert (result.moved, result.next_due) == (1, None)
    assert await broker.client.xlen(broker.keys.stream) == 3


async def test_a_moved_task_can_still_be_cancelled_before_its_claim(docket: Docket):
    """The recorded stream id lets cancel delete a moved, unclaimed message (12.2 #10a)."""
    broker = docket._broker
    await place(broker, "k", when=1000.0, immediate=False)
    await broker.stream_due(2000.0)
    assert await broker.cancel("k", FINISHED, TTL, signal=False) == "cancelled"
    assert await broker.client.xlen(broker.keys.stream) == 0


# ---- cancel ---------------------------------------------------------------------------------


async def test_cancel_a_queued_task(docket: Docket, backend: str):
    """Cancel deletes a queued task's stream entry and writes a cancelled record."""
    broker = docket._broker
    await place(broker, "k")
    assert await broker.cancel("k", FINISHED, TTL, signal=False) == "cancelled"
    assert await broker.client.xlen(broker.keys.stream) == 0
    run = await record(broker, "k")
    assert run["state"] == "cancelled"
    assert run["completed_at"] == FINISHED
    assert run["stream_id"] == ""
    await assert_ttl(broker, backend, broker.keys.runs("k"), TTL)


async def test_cancel_a_scheduled_task(docket: Docket):
    """Cancel removes a future task from the queue along with its parked hash."""
    broker = docket._broker
    await place(broker, "k", when=5000.0, immediate=False)
    assert await broker.cancel("k", FINISHED, TTL, signal=False) == "cancelled"
    assert await broker.client.zcard(broker.keys.queue) == 0
    assert await broker.client.exists(broker.keys.parked("k")) == 0
    assert (await record(broker, "k"))["state"] == "cancelled"
    assert (await broker.stream_due(9000.0)).moved == 0
    assert await broker.client.xlen(broker.keys.stream) == 0


async def test_cancel_a_running_task_signals_workers(docket: Docket):
    """Cancelling a running task marks it cancelled, drops progress and signals P:cancel:K."""
    broker = docket._broker
    await place(broker, "k")
    delivery = await read_one(broker)
    assert await claim_one(broker, "k", delivery)
    await broker.write_progress("k", {"current": 2})
    channel = broker.keys.cancel_channel("k")
    async with listener(broker, channel) as pubsub:
        assert await broker.cancel("k", FINISHED, TTL, signal=True) == "cancelled"
        assert await published(broker, pubsub, channel) == ["k"]
    assert (await record(broker, "k"))["state"] == "cancelled"
    assert await broker.progress_record("k") == {}
    assert await pending_count(broker) == 1  # the worker settles and acks it


async def test_cancel_without_signal_publishes_nothing_on_the_cancel_channel(
    docket: Docket,
):
    """With ``signal=False`` no worker is told to stop the key."""
    broker = docket._broker
    await place(broker, "k")
    channel = broker.keys.cancel_channel("k")
    async with listener(broker, channel) as pubsub:
        await broker.cancel("k", FINISHED, TTL, signal=False)
        assert await published(broker, pubsub, channel) == []


@pytest.mark.parametrize("final", ["completed", "failed"])
async def test_cancel_a_finished_task_keeps_its_state(
    docket: Docket, backend: str, final: str
):
    """Cancelling a finished task returns and keeps its final state, and extends its TTL."""
    broker = docket._broker
    await place(broker, "k")
    delivery = await read_one(broker)
    assert await claim_one(broker, "k", delivery)
    await broker.settle([settlement("k", 1, delivery.message_id, final)], 5)
    assert await broker.cancel("k", "2030-01-01T00:00:00+00:00", TTL, False) == final
    run = await record(broker, "k")
    assert run["state"] == final
    assert run["completed_at"] == FINISHED
    if backend == "redis":
        assert await broker.client.ttl(broker.keys.runs("k")) > 5


async def test_cancel_twice_keeps_the_first_timestamp(docket: Docket):
    """A second cancel reports "cancelled" and leaves the first completed_at."""
    broker = docket._broker
    await place(broker, "k")
    await broker.cancel("k", FINISHED, TTL, signal=False)
    assert await broker.cancel("k", "2030-01-01T00:00:00+00:00", TTL, False) == (
        "cancelled"
    )
    assert (await record(broker, "k"))["completed_at"] == FINISHED


async def test_cancel_a_missing_key_leaves_a_tombstone(docket: Docket, backend: str):
    """Cancelling an unknown key leaves a cancelled tombstone that expires; add still works."""
    broker = docket._broker
    assert await broker.cancel("ghost", FINISHED, TTL, signal=False) == "cancelled"
    run = await record(broker, "ghost")
    assert run["state"] == "cancelled"
    assert run["completed_at"] == FINISHED
    await assert_ttl(broker, backend, broker.keys.runs("ghost"), TTL)
    assert await place(broker, "ghost") is True


async def test_cancel_with_zero_ttl_deletes_the_record(docket: Docket):
    """With TTL 0 cancel withdraws the task and deletes its record."""
    broker = docket._broker
    await place(broker, "k", when=5000.0, immediate=False)
    assert await broker.cancel("k", FINISHED, 0, signal=False) == "cancelled"
    assert await broker.client.exists(broker.keys.runs("k")) == 0
    assert await broker.client.zcard(broker.keys.queue) == 0


# ---- read, reclaim, renew, acknowledge ----------------------------------------------------


async def test_read_creates_the_group_lazily(docket: Docket):
    """Reading before the group exists creates it; the next read delivers waiting work."""
    broker = docket._broker
    await place(broker, "k")
    assert await broker.read("w1", 10, 10) == []
    deliveries = await broker.read("w1", 10, 10)
    assert len(deliveries) == 1
    assert deliveries[0].fields[b"key"] == b"k"
    assert deliveries[0].redelivered is False


async def test_read_on_a_missing_stream_creates_it(docket: Docket):
    """With no stream at all, read answers nothing and leaves stream and group behind."""
    broker = docket._broker
    assert await broker.read("w1", 10, 10) == []
    groups = await broker.client.xinfo_groups(broker.keys.stream)
    assert len(groups) == 1
    assert await broker.read("w1", 10, 10) == []


async def test_read_honours_count_and_delivers_once(docket: Docket):
    """Read hands out at most ``count`` new messages, each only once."""
    broker = docket._broker
    await broker.ensure_group()
    for key in ("a", "b", "c"):
        await place(broker, key)
    first = await broker.read("w1", 2, 10)
    second = await broker.read("w2", 2, 10)
    assert [d.fields[b"key"] for d in first] == [b"a", b"b"]
    assert [d.fields[b"key"] for d in second] == [b"c"]
    assert await broker.read("w1", 2, 10) == []


async def test_ensure_group_tolerates_an_existing_group(docket: Docket):
    """Creating the group twice (racing workers) is harmless."""
    await docket._broker.ensure_group()
    await docket._broker.ensure_group()


async def test_reclaim_takes_over_idle_messages(docket: Docket):
    """Reclaim moves messages idle long enough to the caller, marked redelivered."""
    broker = docket._broker
    await place(broker, "k")
    delivery = await read_one(broker, "crashed")
    assert await broker.reclaim("rescuer", 10, 60_000) == []
    reclaimed = await broker.reclaim("rescuer", 10, 0)
    assert [(d.message_id, d.redelivered) for d in reclaimed] == [
        (delivery.message_id, True)
    ]
    assert reclaimed[0].fields[b"key"] == b"k"
    summary = await broker.client.xpending(broker.keys.stream, broker.group)
    assert [c["name"] for c in summary["consumers"]] == [b"rescuer"]


async def test_reclaim_skips_deleted_messages(docket: Docket):
    """A pending message whose entry was deleted is not handed out again."""
    broker = docket._broker
    await place(broker, "gone")
    await place(broker, "kept")
    await broker.ensure_group()
    gone, _kept = await broker.read("crashed", 10, 10)
    await broker.client.xdel(broker.keys.stream, gone.message_id)
    reclaimed = await broker.reclaim("rescuer", 10, 0)
    assert [d.fields[b"key"] for d in reclaimed] == [b"kept"]


async def test_reclaim_without_a_group_creates_it(docket: Docket):
    """Reclaim on a docket whose group does not exist yet answers nothing."""
    broker = docket._broker
    assert await broker.reclaim("w1", 10, 0) == []
    assert len(await broker.client.xinfo_groups(broker.keys.stream)) == 1


async def test_renew_resets_the_lease(docket: Docket):
    """Renew resets a held message's idle time, so it is not reclaimed."""
    broker = docket._broker
    await place(broker, "k")
    delivery = await read_one(broker, "holder")

    async def idle_ms() -> int:
        (entry,) = await broker.client.xpending_range(
            broker.keys.stream, broker.group, "-", "+", 10
        )
        value = entry.get("time_since_delivered", entry.get(b"time_since_delivered"))
        return int(value)

    async def held_a_while() -> bool:
        return await idle_ms() >= 60

    await eventually(held_a_while)
    await broker.renew("holder", [delivery.message_id])
    assert await idle_ms() < 60
    assert await broker.reclaim("rescuer", 10, 60) == []
    await broker.renew("holder", [])  # nothing held: nothing to do


async def test_acknowledge_acks_and_deletes(docket: Docket):
    """Acknowledge removes messages from the pending list and from the stream."""
    broker = docket._broker
    await place(broker, "k")
    delivery = await read_one(broker)
    await broker.acknowledge([delivery.message_id])
    assert await pending_count(broker) == 0
    assert await broker.client.xlen(broker.keys.stream) == 0
    await broker.acknowledge([])


# ---- clear, pending_work, depths -------------------------------------------------------------


async def test_clear_returns_the_count_and_frees_the_keys(docket: Docket, backend: str):
    """Clear withdraws stream and queued work, counts it, and the keys can be added again."""
    broker = docket._broker
    await place(broker, "now")
    await place(broker, "later", when=5000.0, immediate=False)
    await place(broker, "much-later", when=9000.0, immediate=False)
    assert await broker.clear(TTL) == 3
    assert await broker.client.xlen(broker.keys.stream) == 0
    assert await broker.client.zcard(broker.keys.queue) == 0
    assert await broker.client.exists(broker.keys.parked("later")) == 0
    for key in ("now", "later", "much-later"):
        assert (await record(broker, key))["state"] == "cancelled"
        await assert_ttl(broker, backend, broker.keys.runs(key), TTL)
    assert await broker.pending_work() is False
    assert await place(broker, "now") is True
    assert await place(broker, "later", when=5000.0, immediate=False) is True


async def test_clear_keeps_the_consumer_group(docket: Docket):
    """Clear trims the stream instead of deleting it, so the group survives."""
    broker = docket._broker
    await broker.ensure_group()
    await place(broker, "k")
    assert await broker.clear(TTL) == 1
    assert len(await broker.client.xinfo_groups(broker.keys.stream)) == 1


async def test_clear_with_zero_ttl_deletes_the_records(docket: Docket):
    """With TTL 0 clear deletes the records of the withdrawn tasks."""
    broker = docket._broker
    await place(broker, "now")
    await place(broker, "later", when=5000.0, immediate=False)
    assert await broker.clear(0) == 2
    assert await broker.run_record("now") == {}
    assert await broker.run_record("later") == {}


async def test_clear_of_an_empty_docket(docket: Docket):
    """Clearing nothing returns 0."""
    assert await docket._broker.clear(TTL) == 0


async def test_clear_leaves_running_tasks_running(docket: Docket):
    """Running tasks continue through a clear: their record stays running (spec 2.12)."""
    broker = docket._broker
    await place(broker, "running")
    delivery = await read_one(broker)
    assert await claim_one(broker, "running", delivery)
    await broker.clear(TTL)
    assert (await record(broker, "running"))["state"] == "running"
    assert await place(broker, "running") is False


async def test_pending_work_sees_stream_and_queue(docket: Docket):
    """pending_work is true while anything waits in the stream or the future queue."""
    broker = docket._broker
    assert await broker.pending_work() is False
    await place(broker, "later", when=time.time() + 3600, immediate=False)
    assert await broker.pending_work() is True
    await broker.cancel("later", FINISHED, TTL, signal=False)
    assert await broker.pending_work() is False
    await place(broker, "now")
    assert await broker.pending_work() is True


async def test_depths_split_ready_and_future_work(docket: Docket):
    """depths() counts stream entries plus overdue queued tasks as ready, the rest as future."""
    broker = docket._broker
    assert await broker.depths() == (0, 0)
    await place(broker, "now")
    await place(broker, "overdue", when=time.time() - 60, immediate=False)
    await place(broker, "future", when=time.time() + 3600, immediate=False)
    assert await broker.depths() == (2, 1)


# ---- workers --------------------------------------------------------------------------------


async def test_heartbeat_lists_the_worker_and_its_tasks(docket: Docket, backend: str):
    """A heartbeat makes the worker and its task names visible to list_workers."""
    broker = docket._broker
    before = time.time()
    await broker.heartbeat("w1", ["alpha", "beta"], 10)
    ((name, seen, tasks),) = await broker.list_workers(10)
    assert name == "w1"
    assert before - 1 <= seen <= time.time() + 1
    assert tasks == {"alpha", "beta"}
    assert [row[0] for row in await broker.list_workers(10, "alpha")] == ["w1"]
    assert await broker.list_workers(10, "gamma") == []
    await assert_ttl(broker, backend, broker.keys.worker_tasks("w1"), 10)


async def test_list_workers_prunes_workers_past_the_horizon(docket: Docket):
    """Workers whose last heartbeat is older than the horizon vanish from listings."""
    broker = docket._broker
    await broker.heartbeat("alive", ["t"], 10)
    await broker.client.zadd(broker.keys.workers, {"dead": time.time() - 100})
    await broker.client.zadd(broker.keys.task_workers("t"), {"dead": time.time() - 100})
    assert [row[0] for row in await broker.list_workers(10)] == ["alive"]
    assert [row[0] for row in await broker.list_workers(10, "t")] == ["alive"]
    assert await broker.client.zscore(broker.keys.workers, "dead") is None


async def test_deregister_removes_the_worker(docket: Docket):
    """Deregistering removes the worker from every roster and drops its task set."""
    broker = docket._broker
    await broker.heartbeat("w1", ["alpha"], 10)
    await broker.heartbeat("w2", ["alpha"], 10)
    await broker.deregister("w1", ["alpha"])
    assert [row[0] for row in await broker.list_workers(10)] == ["w2"]
    assert [row[0] for row in await broker.list_workers(10, "alpha")] == ["w2"]
    assert await broker.client.exists(broker.keys.worker_tasks("w1")) == 0


# ---- progress ---------------------------------------------------------------------------------


async def test_write_progress_sets_increments_and_clears_the_message(docket: Docket):
    """write_progress HSETs fields, HINCRBYs current (returning it) and drops the message."""
    broker = docket._broker
    assert (await broker.write_progress("k", {"total": 10, "message": "hi"}))[0] is None
    assert (await broker.write_progress("k", {}, increment=3))[0] == 3
    assert (await broker.write_progress("k", {"updated_at": "x"}, increment=2))[0] == 5
    await broker.write_progress("k", {}, delete_message=True)
    assert await broker.progress_record("k") == {
        b"total": b"10",
        b"current": b"5",
        b"updated_at": b"x",
    }


async def test_concurrent_progress_increments_are_never_lost(docket: Docket):
    """Concurrent increments add up exactly (HINCRBY, not read-modify-write)."""
    broker = docket._broker
    await asyncio.gather(
        *(broker.write_progress("k", {}, increment=1) for _ in range(25))
    )
    assert (await broker.progress_record("k"))[b"current"] == b"25"


# ---- events and the listening flag ------------------------------------------------------------


async def test_mark_listening_sets_an_expiring_flag(docket: Docket, backend: str):
    """mark_listening sets P:listening with the given TTL."""
    broker = docket._broker
    assert await broker.client.exists(broker.keys.listening) == 0
    await broker.mark_listening(30)
    assert await broker.client.exists(broker.keys.listening) == 1
    await assert_ttl(broker, backend, broker.keys.listening, 30)


async def lifecycle(broker: Broker, key: str) -> None:
    """schedule (future) -> stream_due -> claim -> settle for ``key``."""
    await place(broker, key, when=1000.0, immediate=False)
    await broker.stream_due(2000.0)
    delivery = await read_one(broker)
    assert await claim_one(broker, key, delivery)
    await broker.settle(
        [settlement(key, 1, delivery.message_id, "failed", "E: x")], TTL
    )


async def test_lifecycle_events_are_published_only_while_listening(docket: Docket):
    """schedule, stream_due, claim and settle publish state events only under the flag."""
    broker = docket._broker
    quiet, loud = broker.keys.state_channel("quiet"), broker.keys.state_channel("loud")
    async with listener(broker, quiet, loud) as pubsub:
        await lifecycle(broker, "quiet")
        assert await published(broker, pubsub, quiet) == []
        await broker.mark_listening(60)
        await lifecycle(broker, "loud")
        events = [json.loads(p) for p in await published(broker, pubsub, loud)]
    assert [e["state"] for e in events] == ["scheduled", "queued", "running", "failed"]
    assert all(e["type"] == "state" and e["key"] == "loud" for e in events)
    assert events[2]["worker"] == "w1"
    assert events[2]["started_at"] == STARTED
    assert events[3]["completed_at"] == FINISHED
    assert events[3]["error"] == "E: x"


async def test_terminal_events_are_valid_json_for_any_error_text(docket: Docket):
    """A settle event stays parseable whatever control characters its error holds."""
    broker = docket._broker
    error = 'RuntimeError: \x1b[31mred\x1b[0m \x00\x07\x7f\n\t\\ "quoted"'
    channel = broker.keys.state_channel("k")
    await place(broker, "k")
    delivery = await read_one(broker)
    assert await claim_one(broker, "k", delivery)
    await broker.mark_listening(60)
    async with listener(broker, channel) as pubsub:
        await broker.settle(
            [settlement("k", 1, delivery.message_id, "failed", error)], TTL
        )
        (payload,) = await published(broker, pubsub, channel)
    assert json.loads(payload)["error"] == error


async def test_cancel_events_are_published_only_while_listening(docket: Docket):
    """Cancel publishes a cancelled state event only under the flag, and only on change."""
    broker = docket._broker
    quiet, loud = broker.keys.state_channel("quiet"), broker.keys.state_channel("loud")
    await place(broker, "quiet", when=5000.0, immediate=False)
    await place(broker, "loud", when=5000.0, immediate=False)
    async with listener(broker, quiet, loud) as pubsub:
        await broker.cancel("quiet", FINISHED, TTL, signal=False)
        assert await published(broker, pubsub, quiet) == []
        await broker.mark_listening(60)
        await broker.cancel("loud", FINISHED, TTL, signal=False)
        await broker.cancel("loud", FINISHED, TTL, signal=False)  # no change: silent
        events = [json.loads(p) for p in await published(broker, pubsub, loud)]
    assert events == [
        {"type": "state", "key": "loud", "state": "cancelled", "completed_at": FINISHED}
    ]


async def test_superseded_settle_still_publishes_its_terminal_event(docket: Docket):
    """A superseded run's terminal event is published so its waiters are released."""
    broker = docket._broker
    channel = broker.keys.state_channel("k")
    await place(broker, "k")
    delivery = await read_one(broker)
    assert await claim_one(broker, "k", delivery)
    await place(broker, "k", when=5000.0, immediate=False, mode="replace")
    await broker.mark_listening(60)
    async with listener(broker, channel) as pubsub:
        await broker.settle([settlement("k", 1, delivery.message_id)], TTL)
        assert states(await published(broker, pubsub, channel)) == ["completed"]


async def test_write_progress_reports_a_listener(docket: Docket):
    """write_progress tells its caller to publish the event while someone listens."""
    broker = docket._broker
    await broker.mark_listening(60)
    _, listening = await broker.write_progress("k", {"current": 1})
    assert listening is True


async def test_progress_events_are_published_only_while_listening(docket: Docket):
    """Without the listening flag, progress writes ask for no event to be published."""
    broker = docket._broker
    broker._listening_checked = float("-inf")  # forget any cached answer
    _, listening = await broker.write_progress("k", {"current": 1})
    assert listening is False
