"""The broker's contract, part 4: consumer reads, workers, progress and events.

Covers read/reclaim/renew/acknowledge, worker registration, progress writes, and the
state events published under the listening flag, on both backends.
"""

from __future__ import annotations

import asyncio
import json
import time

from docket import Docket
from docket._broker import Broker
from tests.conftest import eventually
from tests.core._broker_helpers import (
    FINISHED,
    STARTED,
    TTL,
    assert_ttl,
    claim_one,
    listener,
    pending_count,
    place,
    published,
    read_one,
    settlement,
    states,
)

# ---- read, reclaim, renew, acknowledge ----------------------------------------------------


async def test_read_creates_the_group_lazily(docket: Docket):
    """Reading before the group exists creates it; the next read delivers waiting work."""
    broker = docket.broker
    await place(broker, "k")
    assert await broker.queue.read("w1", 10, 10) == []
    deliveries = await broker.queue.read("w1", 10, 10)
    assert len(deliveries) == 1
    assert deliveries[0].fields[b"key"] == b"k"
    assert deliveries[0].redelivered is False


async def test_read_on_a_missing_stream_creates_it(docket: Docket):
    """With no stream at all, read answers nothing and leaves stream and group behind."""
    broker = docket.broker
    assert await broker.queue.read("w1", 10, 10) == []
    groups = await broker.client.xinfo_groups(broker.keys.stream)
    assert len(groups) == 1
    assert await broker.queue.read("w1", 10, 10) == []


async def test_read_honours_count_and_delivers_once(docket: Docket):
    """Read hands out at most ``count`` new messages, each only once."""
    broker = docket.broker
    await broker.ensure_group()
    for key in ("a", "b", "c"):
        await place(broker, key)
    first = await broker.queue.read("w1", 2, 10)
    second = await broker.queue.read("w2", 2, 10)
    assert [d.fields[b"key"] for d in first] == [b"a", b"b"]
    assert [d.fields[b"key"] for d in second] == [b"c"]
    assert await broker.queue.read("w1", 2, 10) == []


async def test_ensure_group_tolerates_an_existing_group(docket: Docket):
    """Creating the group twice (racing workers) is harmless."""
    await docket.broker.ensure_group()
    await docket.broker.ensure_group()


async def test_reclaim_takes_over_idle_messages(docket: Docket):
    """Reclaim moves messages idle long enough to the caller, marked redelivered."""
    broker = docket.broker
    await place(broker, "k")
    delivery = await read_one(broker, "crashed")
    assert (await broker.sweep.reclaim("rescuer", 10, 60_000)).deliveries == []
    reclaimed = (await broker.sweep.reclaim("rescuer", 10, 0)).deliveries
    assert [(d.message_id, d.redelivered, d.deliveries) for d in reclaimed] == [
        (delivery.message_id, True, 2)
    ]
    assert reclaimed[0].fields[b"key"] == b"k"
    summary = await broker.client.xpending(broker.keys.stream, broker.group)
    assert [c["name"] for c in summary["consumers"]] == [b"rescuer"]


async def test_reclaim_skips_deleted_messages(docket: Docket):
    """A pending message whose entry was deleted is not handed out again."""
    broker = docket.broker
    await place(broker, "gone")
    await place(broker, "kept")
    await broker.ensure_group()
    gone, _kept = await broker.queue.read("crashed", 10, 10)
    await broker.client.xdel(broker.keys.stream, gone.message_id)
    reclaimed = (await broker.sweep.reclaim("rescuer", 10, 0)).deliveries
    assert [d.fields[b"key"] for d in reclaimed] == [b"kept"]


async def test_reclaim_finds_an_orphan_behind_renewed_messages(docket: Docket):
    """Messages their holder keeps renewing are skipped wherever they lie, so an
    orphan after them is found even when the sweep may take only one message."""
    broker = docket.broker
    for key in ("live-1", "live-2", "orphan"):
        await place(broker, key)
    await broker.ensure_group()
    live_1, live_2 = await broker.queue.read("alive", 2, 10)
    await broker.queue.read("dead", 1, 10)
    await eventually(lambda: idle_at_least(broker, 50))
    await broker.queue.renew("alive", [live_1.message_id, live_2.message_id])
    sweep = await broker.sweep.reclaim("rescuer", 1, 50)
    assert [d.fields[b"key"] for d in sweep.deliveries] == [b"orphan"]


async def idle_at_least(broker: Broker, ms: int) -> bool:
    rows = await broker.client.xpending_range(
        broker.keys.stream, broker.group, "-", "+", 10
    )
    return all(
        int(row.get("time_since_delivered", row.get(b"time_since_delivered", 0))) >= ms
        for row in rows
    )


async def test_reclaim_leaves_out_held_messages_and_all_but_one_suspect(docket: Docket):
    """A sweep never takes what the caller holds, takes one suspect at most (none
    when told so), and always takes what is past the delivery limit."""
    broker = docket.broker
    for key in ("mine", "s1", "s2", "over"):
        await place(broker, key)
    await broker.ensure_group()
    mine, s1, s2, over = await broker.queue.read("ghost", 4, 10)
    for _ in range(3):  # over: delivered 4 times; s1 and s2: 2 times
        await broker.sweep.reclaim(
            "ghost",
            10,
            0,
            holding=[mine.message_id, s1.message_id, s2.message_id],
            quarantine=99,
        )
    await broker.sweep.reclaim(
        "ghost", 10, 0, holding=[mine.message_id, over.message_id], quarantine=99
    )
    sweep = await broker.sweep.reclaim(
        "rescuer", 10, 0, holding=[mine.message_id], quarantine=3, limit=4
    )
    taken = {d.fields[b"key"]: d.deliveries for d in sweep.deliveries}
    assert taken.pop(b"over") == 5
    assert len(taken) == 1 and set(taken.values()) == {3}
    assert len(sweep.suspects) == 1
    none = await broker.sweep.reclaim(
        "rescuer", 10, 0, holding=[mine.message_id], take_suspect=False, limit=9
    )
    assert none.deliveries == []


async def test_reclaim_without_a_group_creates_it(docket: Docket):
    """Reclaim on a docket whose group does not exist yet answers nothing."""
    broker = docket.broker
    assert (await broker.sweep.reclaim("w1", 10, 0)).deliveries == []
    assert len(await broker.client.xinfo_groups(broker.keys.stream)) == 1


async def test_renew_resets_the_lease(docket: Docket):
    """Renew resets a held message's idle time, so it is not reclaimed."""
    broker = docket.broker
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
    await broker.queue.renew("holder", [delivery.message_id])
    assert await idle_ms() < 60
    assert (await broker.sweep.reclaim("rescuer", 10, 60)).deliveries == []
    await broker.queue.renew("holder", [])  # nothing held: nothing to do


async def test_acknowledge_acks_and_deletes(docket: Docket):
    """Acknowledge removes messages from the pending list and from the stream."""
    broker = docket.broker
    await place(broker, "k")
    delivery = await read_one(broker)
    await broker.queue.acknowledge([delivery.message_id])
    assert await pending_count(broker) == 0
    assert await broker.client.xlen(broker.keys.stream) == 0
    await broker.queue.acknowledge([])


# ---- workers --------------------------------------------------------------------------------


async def test_heartbeat_lists_the_worker_and_its_tasks(docket: Docket, backend: str):
    """A heartbeat makes the worker and its task names visible to list_workers."""
    broker = docket.broker
    before = time.time()
    await broker.workers.heartbeat("w1", ["alpha", "beta"], 10)
    ((name, seen, tasks),) = await broker.workers.list(10)
    assert name == "w1"
    assert before - 1 <= seen <= time.time() + 1
    assert tasks == {"alpha", "beta"}
    assert [row[0] for row in await broker.workers.list(10, "alpha")] == ["w1"]
    assert await broker.workers.list(10, "gamma") == []
    await assert_ttl(broker, backend, broker.keys.worker_tasks("w1"), 10)


async def test_list_workers_prunes_workers_past_the_horizon(docket: Docket):
    """Workers whose last heartbeat is older than the horizon vanish from listings."""
    broker = docket.broker
    await broker.workers.heartbeat("alive", ["t"], 10)
    await broker.client.zadd(broker.keys.workers, {"dead": time.time() - 100})
    await broker.client.zadd(broker.keys.task_workers("t"), {"dead": time.time() - 100})
    assert [row[0] for row in await broker.workers.list(10)] == ["alive"]
    assert [row[0] for row in await broker.workers.list(10, "t")] == ["alive"]
    assert await broker.client.zscore(broker.keys.workers, "dead") is None


async def test_deregister_removes_the_worker(docket: Docket):
    """Deregistering removes the worker from every roster and drops its task set."""
    broker = docket.broker
    await broker.workers.heartbeat("w1", ["alpha"], 10)
    await broker.workers.heartbeat("w2", ["alpha"], 10)
    await broker.workers.deregister("w1", ["alpha"])
    assert [row[0] for row in await broker.workers.list(10)] == ["w2"]
    assert [row[0] for row in await broker.workers.list(10, "alpha")] == ["w2"]
    assert await broker.client.exists(broker.keys.worker_tasks("w1")) == 0


# ---- progress ---------------------------------------------------------------------------------


async def test_write_progress_sets_increments_and_clears_the_message(docket: Docket):
    """write_progress HSETs fields, HINCRBYs current (returning it) and drops the message."""
    broker = docket.broker
    assert (await broker.events.write_progress("k", {"total": 10, "message": "hi"}))[
        0
    ] is None
    assert (await broker.events.write_progress("k", {}, increment=3))[0] == 3
    assert (await broker.events.write_progress("k", {"updated_at": "x"}, increment=2))[
        0
    ] == 5
    await broker.events.write_progress("k", {}, delete_message=True)
    assert await broker.events.progress_record("k") == {
        b"total": b"10",
        b"current": b"5",
        b"updated_at": b"x",
    }


async def test_concurrent_progress_increments_are_never_lost(docket: Docket):
    """Concurrent increments add up exactly (HINCRBY, not read-modify-write)."""
    broker = docket.broker
    await asyncio.gather(
        *(broker.events.write_progress("k", {}, increment=1) for _ in range(25))
    )
    assert (await broker.events.progress_record("k"))[b"current"] == b"25"


# ---- events and the listening flag ------------------------------------------------------------


async def test_mark_listening_sets_an_expiring_flag(docket: Docket, backend: str):
    """mark_listening sets P:listening with the given TTL."""
    broker = docket.broker
    assert await broker.client.exists(broker.keys.listening) == 0
    await broker.events.mark_listening(30)
    assert await broker.client.exists(broker.keys.listening) == 1
    await assert_ttl(broker, backend, broker.keys.listening, 30)


async def lifecycle(broker: Broker, key: str) -> None:
    """schedule (future) -> stream_due -> claim -> settle for ``key``."""
    await place(broker, key, when=1000.0, immediate=False)
    await broker.queue.stream_due(2000.0)
    delivery = await read_one(broker)
    assert await claim_one(broker, key, delivery)
    await broker.runs.settle(
        [settlement(key, 1, delivery.message_id, "failed", "E: x")], TTL
    )


async def test_lifecycle_events_are_published_only_while_listening(docket: Docket):
    """schedule, stream_due, claim and settle publish state events only under the flag."""
    broker = docket.broker
    quiet, loud = broker.keys.state_channel("quiet"), broker.keys.state_channel("loud")
    async with listener(broker, quiet, loud) as pubsub:
        await lifecycle(broker, "quiet")
        assert await published(broker, pubsub, quiet) == []
        await broker.events.mark_listening(60)
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
    broker = docket.broker
    error = 'RuntimeError: \x1b[31mred\x1b[0m \x00\x07\x7f\n\t\\ "quoted"'
    channel = broker.keys.state_channel("k")
    await place(broker, "k")
    delivery = await read_one(broker)
    assert await claim_one(broker, "k", delivery)
    await broker.events.mark_listening(60)
    async with listener(broker, channel) as pubsub:
        await broker.runs.settle(
            [settlement("k", 1, delivery.message_id, "failed", error)], TTL
        )
        (payload,) = await published(broker, pubsub, channel)
    assert json.loads(payload)["error"] == error


async def test_cancel_events_are_published_only_while_listening(docket: Docket):
    """Cancel publishes a cancelled state event only under the flag, and only on change."""
    broker = docket.broker
    quiet, loud = broker.keys.state_channel("quiet"), broker.keys.state_channel("loud")
    await place(broker, "quiet", when=5000.0, immediate=False)
    await place(broker, "loud", when=5000.0, immediate=False)
    async with listener(broker, quiet, loud) as pubsub:
        await broker.queue.cancel("quiet", FINISHED, TTL, signal=False)
        assert await published(broker, pubsub, quiet) == []
        await broker.events.mark_listening(60)
        await broker.queue.cancel("loud", FINISHED, TTL, signal=False)
        await broker.queue.cancel(
            "loud", FINISHED, TTL, signal=False
        )  # no change: silent
        events = [json.loads(p) for p in await published(broker, pubsub, loud)]
    assert events == [
        {"type": "state", "key": "loud", "state": "cancelled", "completed_at": FINISHED}
    ]


async def test_superseded_settle_publishes_no_terminal_event(docket: Docket):
    """A run a replace superseded ends without a state event (as in pydocket
    0.27): a caller waiting on the key waits for the replacement's ending."""
    broker = docket.broker
    channel = broker.keys.state_channel("k")
    await place(broker, "k")
    delivery = await read_one(broker)
    assert await claim_one(broker, "k", delivery)
    await place(broker, "k", when=5000.0, immediate=False, mode="replace")
    await broker.events.mark_listening(60)
    async with listener(broker, channel) as pubsub:
        await broker.runs.settle([settlement("k", 1, delivery.message_id)], TTL)
        assert states(await published(broker, pubsub, channel)) == []


async def test_write_progress_reports_a_listener(docket: Docket):
    """write_progress tells its caller to publish the event while someone listens."""
    broker = docket.broker
    await broker.events.mark_listening(60)
    _, listening = await broker.events.write_progress("k", {"current": 1})
    assert listening is True


async def test_progress_events_are_published_only_while_listening(docket: Docket):
    """Without the listening flag, progress writes ask for no event to be published."""
    broker = docket.broker
    broker._listening_checked = float("-inf")  # forget any cached answer
    _, listening = await broker.events.write_progress("k", {"current": 1})
    assert listening is False
