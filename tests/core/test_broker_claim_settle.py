"""The broker's contract, part 2: claim and settle."""

from __future__ import annotations

from docket import Docket
from tests.core._broker_helpers import (
    FINISHED,
    STARTED,
    TTL,
    assert_ttl,
    claim_one,
    pending_count,
    place,
    read_one,
    record,
    settlement,
)

# ---- claim ----------------------------------------------------------------------------


async def test_claim_marks_the_record_running(docket: Docket):
    """A current message is claimed: state running, worker, started_at, no stream id."""
    broker = docket.broker
    await place(broker, "k")
    delivery = await read_one(broker)
    (claimed,) = await broker.runs.claim(
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
    broker = docket.broker
    await place(broker, "k")
    old = await read_one(broker)
    await place(broker, "k", when=5000.0, immediate=False, mode="replace")
    (claimed,) = await broker.runs.claim(
        "w1", STARTED, [("k", 1, old.message_id, False)]
    )
    assert claimed is False
    assert await pending_count(broker) == 0
    assert await broker.client.xlen(broker.keys.stream) == 0
    run = await record(broker, "k")
    assert run["state"] == "scheduled"  # the successor's record is untouched
    assert run["generation"] == "2"


async def test_claim_refuses_a_cancelled_record(docket: Docket):
    """A delivered message whose key was cancelled before the claim never runs."""
    broker = docket.broker
    await place(broker, "k")
    delivery = await read_one(broker)
    await broker.queue.cancel("k", FINISHED, TTL, signal=False)
    assert await claim_one(broker, "k", delivery) is False
    assert await pending_count(broker) == 0
    assert (await record(broker, "k"))["state"] == "cancelled"


async def test_claim_answers_per_message_in_a_batch(docket: Docket):
    """A batch claim returns one verdict per message, in order."""
    broker = docket.broker
    await place(broker, "stale")
    await place(broker, "fresh")
    await broker.ensure_group()
    deliveries = await broker.queue.read("w1", 10, 10)
    assert [d.fields[b"key"] for d in deliveries] == [b"stale", b"fresh"]
    await place(broker, "stale", mode="replace")
    verdicts = await broker.runs.claim(
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
    broker = docket.broker
    await place(broker, "k")
    delivery = await read_one(broker)
    assert await claim_one(broker, "k", delivery)
    await broker.events.write_progress("k", {"current": 5, "message": "half"})
    (claimed,) = await broker.runs.claim(
        "w2", STARTED, [("k", 1, delivery.message_id, True)]
    )
    assert claimed is True
    assert await broker.events.progress_record("k") == {}
    assert (await record(broker, "k"))["worker"] == "w2"


# ---- settle -------------------------------------------------------------------------------


async def test_settle_writes_the_final_state_and_acknowledges(
    docket: Docket, backend: str
):
    """Settle writes state, completed_at, result_key and the TTL, and acks the message."""
    broker = docket.broker
    await place(broker, "k")
    delivery = await read_one(broker)
    assert await claim_one(broker, "k", delivery)
    superseded = await broker.runs.settle(
        [settlement("k", 1, delivery.message_id, stored_result=True)], TTL
    )
    assert superseded == 0
    run = await record(broker, "k")
    assert run["state"] == "completed"
    assert run["completed_at"] == FINISHED
    assert run["result_key"] == "k:1"  # each run's outcome under K:<generation>
    assert "error" not in run
    assert await pending_count(broker) == 0
    assert await broker.client.xlen(broker.keys.stream) == 0
    await assert_ttl(broker, backend, broker.keys.runs("k"), TTL)


async def test_settle_records_the_error_of_a_failure(docket: Docket, backend: str):
    """A failed settlement stores its error text; no result_key without the flag."""
    broker = docket.broker
    await place(broker, "k")
    delivery = await read_one(broker)
    assert await claim_one(broker, "k", delivery)
    await broker.runs.settle(
        [settlement("k", 1, delivery.message_id, "failed", "ValueError: boom")], TTL
    )
    run = await record(broker, "k")
    assert run["state"] == "failed"
    assert run["error"] == "ValueError: boom"
    assert "result_key" not in run
    await assert_ttl(broker, backend, broker.keys.runs("k"), TTL)


async def test_settle_with_zero_ttl_deletes_the_record(docket: Docket):
    """With TTL 0 (fire-and-forget) the run record is deleted at settlement."""
    broker = docket.broker
    await place(broker, "k")
    delivery = await read_one(broker)
    assert await claim_one(broker, "k", delivery)
    await broker.events.write_progress("k", {"current": 1})
    assert await broker.runs.settle([settlement("k", 1, delivery.message_id)], 0) == 0
    assert await broker.client.exists(broker.keys.runs("k")) == 0
    assert await pending_count(broker) == 0


async def test_settle_deletes_the_progress_hash_when_flagged(docket: Docket):
    """The "p" flag makes settle delete the execution's progress hash."""
    broker = docket.broker
    await place(broker, "k")
    delivery = await read_one(broker)
    assert await claim_one(broker, "k", delivery)
    await broker.events.write_progress("k", {"current": 3, "generation": 1})
    await broker.runs.settle(
        [settlement("k", 1, delivery.message_id, wrote_progress=True)], TTL
    )
    assert await broker.events.progress_record("k") == {}


async def test_settle_leaves_a_successors_record_alone(docket: Docket, backend: str):
    """A run replaced while it ran is counted superseded and its successor is untouched."""
    broker = docket.broker
    await place(broker, "k")
    delivery = await read_one(broker)
    assert await claim_one(broker, "k", delivery)
    await place(broker, "k", when=5000.0, immediate=False, mode="replace")
    successor = await broker.runs.record("k")
    superseded = await broker.runs.settle(
        [settlement("k", 1, delivery.message_id, "failed", "late")], TTL
    )
    assert superseded == 1
    assert await broker.runs.record("k") == successor
    assert await pending_count(broker) == 0  # its own message is still acknowledged
    await assert_ttl(broker, backend, broker.keys.runs("k"), None)


async def test_superseded_settle_keeps_the_successors_progress(docket: Docket):
    """A superseded run deletes progress only if the hash's generation tag is not newer."""
    broker = docket.broker
    await place(broker, "k")
    delivery = await read_one(broker)
    assert await claim_one(broker, "k", delivery)
    await place(broker, "k", mode="replace")
    await broker.events.write_progress("k", {"current": 7, "generation": 2})
    await broker.runs.settle(
        [settlement("k", 1, delivery.message_id, wrote_progress=True)], TTL
    )
    assert (await broker.events.progress_record("k"))[b"current"] == b"7"

    await broker.events.write_progress("k", {"generation": 1})  # its own, stale hash
    await broker.runs.settle([settlement("k", 1, None, wrote_progress=True)], TTL)
    assert await broker.events.progress_record("k") == {}


async def test_settle_batches_several_executions(docket: Docket):
    """One settle call finishes a batch and reports how many were superseded."""
    broker = docket.broker
    for key in ("a", "b"):
        await place(broker, key)
    await broker.ensure_group()
    a, b = await broker.queue.read("w1", 10, 10)
    await broker.runs.claim(
        "w1", STARTED, [("a", 1, a.message_id, False), ("b", 1, b.message_id, False)]
    )
    await place(broker, "b", when=5000.0, immediate=False, mode="replace")
    superseded = await broker.runs.settle(
        [settlement("a", 1, a.message_id), settlement("b", 1, b.message_id)], TTL
    )
    assert superseded == 1
    assert (await record(broker, "a"))["state"] == "completed"
    assert (await record(broker, "b"))["state"] == "scheduled"
    assert await pending_count(broker) == 0


async def test_keys_and_errors_of_any_text_survive_claim_and_settle(docket: Docket):
    """Claim and settle batches carry each field length-prefixed: keys with colons,
    digits, multibyte and control characters, and errors with newlines, come back
    exactly (and every record of the batch is written, none shifted)."""
    broker = docket.broker
    keys = ["12:34", "é:ü 9:", "line\nbreak\x00", "plain"]
    for key in keys:
        await place(broker, key)
    await broker.ensure_group()
    deliveries = await broker.queue.read("w1", 10, 10)
    by_key = {d.fields[b"key"].decode(): d for d in deliveries}
    claims = [(k, 1, by_key[k].message_id, False) for k in keys]
    assert await broker.runs.claim("w1", STARTED, claims) == [True] * 4
    errors = {k: f"E: {k}\n  more: {n}:{n}" for n, k in enumerate(keys)}
    await broker.runs.settle(
        [settlement(k, 1, by_key[k].message_id, "failed", errors[k]) for k in keys],
        TTL,
    )
    for key in keys:
        run = await record(broker, key)
        assert run["state"] == "failed"
        assert run["error"].encode("latin-1").decode() == errors[key]
    assert await pending_count(broker) == 0


async def test_a_turn_settles_claims_and_reads_together(docket: Docket):
    """``turn`` settles one batch, claims the next and reads ahead in one call; each
    part answers on its own (a refused claim does not undo the settle)."""
    broker = docket.broker
    for key in ("a", "b", "c", "d"):
        await place(broker, key)
    await broker.ensure_group()
    a, b = await broker.queue.read("w1", 2, 10)
    assert await claim_one(broker, "a", a)
    turn = await broker.runs.turn(
        [settlement("a", 1, a.message_id)],
        TTL,
        "w1",
        STARTED,
        [("b", 1, b.message_id, False)],
        read=5,
    )
    assert turn.settled == 0 and turn.claimed == [True]
    assert isinstance(turn.deliveries, list)
    assert [d.fields[b"key"] for d in turn.deliveries] == [b"c", b"d"]
    assert (await record(broker, "a"))["state"] == "completed"
    assert (await record(broker, "b"))["state"] == "running"
    c, d = turn.deliveries
    async with docket.redis() as client:
        # The dead-letter stream itself is not a stream: claiming a message whose
        # record is bad (it would be dead-lettered) fails the claim script.
        await client.set(docket.runs_key("c"), "not a hash")
        await client.set(docket.keyspace.dead, "not a stream")
    turn = await broker.runs.turn(
        [settlement("b", 1, b.message_id)],
        TTL,
        "w1",
        STARTED,
        [("c", 1, c.message_id, False)],
    )
    assert turn.settled == 0 and isinstance(turn.claimed, Exception)
    assert turn.deliveries == []
    assert (await record(broker, "b"))["state"] == "completed"
    assert await pending_count(broker) == 2  # c and d: nothing acknowledged


async def test_a_claim_dead_letters_a_message_whose_record_is_not_a_hash(
    docket: Docket,
):
    """A run record someone overwrote with another type cannot say whether its
    message is current: the claim moves that message to P:dead (bad-run-record)
    and claims the rest of the batch as usual."""
    broker = docket.broker
    for key in ("a", "b", "c"):
        await place(broker, key)
    await broker.ensure_group()
    a, b, c = await broker.queue.read("w1", 3, 10)
    async with docket.redis() as client:
        await client.set(docket.runs_key("b"), "not a hash")
    claimed = await broker.runs.claim(
        "w1",
        STARTED,
        [(k, 1, m.message_id, False) for k, m in (("a", a), ("b", b), ("c", c))],
    )
    assert claimed == [True, None, True]
    (letter,) = await docket.dead_letters.list()
    assert letter.reason == "bad-run-record"
    assert "is not a hash" in letter.detail
    assert letter.fields[b"key"] == b"b"
    assert await pending_count(broker) == 2  # b was acknowledged and deleted
    async with docket.redis() as client:
        assert await client.get(docket.runs_key("b")) == b"not a hash"  # untouched
