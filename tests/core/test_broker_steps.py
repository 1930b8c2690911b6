"""The broker's contract for a run's checkpoint (``broker.steps``, steps_write.lua,
steps_take.lua, and the ``steps`` flag schedule, settle and cancel keep)."""

from __future__ import annotations

import json

from docket import Docket
from tests.core._broker_helpers import (
    FINISHED,
    TTL,
    claim_one,
    generation_of,
    place,
    read_one,
    record,
    settlement,
)

DOCUMENT = json.dumps({"kind": "signal", "signal": "go", "done": True})


async def running(docket: Docket, key: str = "k") -> int:
    """Place and claim ``key``; its generation."""
    broker = docket.broker
    await place(broker, key)
    delivery = await read_one(broker)
    assert await claim_one(broker, key, delivery)
    return generation_of(delivery)


async def test_a_write_of_the_current_run_is_kept_with_its_flag_and_expiry(
    docket: Docket,
):
    """A write by the run's generation while it runs lands, flags the record and
    gives the checkpoint an expiry; one by another generation lands nowhere."""
    broker, generation = docket.broker, await running(docket)
    assert await broker.steps.write("k", generation, {"c:a": "1"}, 300)
    assert await broker.steps.read("k") == {"c:a": b"1"}
    assert (await record(broker, "k"))["steps"] == "1"
    assert 0 < await broker.client.ttl(broker.keys.steps("k")) <= 300
    assert not await broker.steps.write("k", generation + 1, {"c:b": "1"}, 300)
    assert await broker.steps.read("k") == {"c:a": b"1"}


async def test_no_write_once_the_run_ended(docket: Docket):
    """Settling the run drops its checkpoint in the same step; a late write of
    that run is refused and leaves nothing behind."""
    broker, generation = docket.broker, await running(docket)
    await broker.steps.write("k", generation, {"c:a": "1"}, 300)
    await broker.runs.settle([settlement("k", generation, None)], TTL)
    assert await broker.steps.read("k") == {}
    assert not await broker.steps.write("k", generation, {"c:b": "1"}, 300)
    assert await broker.steps.read("k") == {}


async def test_a_cancel_drops_the_checkpoint(docket: Docket):
    """Cancel ends the run and its checkpoint."""
    broker, generation = docket.broker, await running(docket)
    await broker.steps.write("k", generation, {"c:a": "1"}, 300)
    assert await broker.queue.cancel("k", FINISHED, TTL, signal=False) == "cancelled"
    assert await broker.steps.read("k") == {}


async def test_a_new_run_starts_without_the_old_checkpoint(docket: Docket):
    """A replace starts a new run: the checkpoint of the run it replaces goes."""
    broker, generation = docket.broker, await running(docket)
    await broker.steps.write("k", generation, {"c:a": "1"}, 300)
    await place(broker, "k", mode="replace")
    assert await broker.steps.read("k") == {}


async def test_a_reschedule_keeps_the_checkpoint_and_its_flag(docket: Docket):
    """A retry (reschedule of the running message) keeps the run's checkpoint and
    the record's flag, so the next attempt reads it and its end drops it."""
    broker = docket.broker
    await place(broker, "k")
    delivery = await read_one(broker)
    generation = generation_of(delivery)
    assert await claim_one(broker, "k", delivery)
    await broker.steps.write("k", generation, {"c:a": "1"}, 300)
    await place(
        broker,
        "k",
        mode="reschedule",
        reschedule_from=delivery.message_id,
        generation=generation,
    )
    assert await broker.steps.read("k") == {"c:a": b"1"}
    assert (await record(broker, "k"))["steps"] == "1"


async def test_a_kept_signal_taken_once_even_when_asked_twice(docket: Docket):
    """steps_take consumes a kept signal and keeps it as the point's payload in
    the same step; asked again (a reply lost on the way) it answers with the same
    payload and takes no second signal; with none kept it answers None."""
    broker, generation = docket.broker, await running(docket)
    point = ("s:1", "p:1", DOCUMENT)
    assert await broker.steps.take("k", generation, point, "go", 300) is None
    assert await broker.mailbox.send("go", b"first", 60) is False
    assert await broker.mailbox.send("go", b"second", 60) is False
    assert await broker.steps.take("k", generation, point, "go", 300) == b"first"
    assert await broker.steps.take("k", generation, point, "go", 300) == b"first"
    assert await broker.mailbox.kept("go") == 1
    fields = await broker.steps.read("k")
    assert fields["p:1"] == b"first" and json.loads(fields["s:1"])["done"]
    assert (await record(broker, "k"))["steps"] == "1"


async def test_a_stale_run_takes_no_signal(docket: Docket):
    """An attempt that is no longer the key's run takes nothing: the signal stays
    kept for the waiter to come."""
    broker, generation = docket.broker, await running(docket)
    await broker.mailbox.send("go", b"payload", 60)
    point = ("s:1", "p:1", DOCUMENT)
    assert await broker.steps.take("k", generation + 1, point, "go", 300) is None
    assert await broker.mailbox.kept("go") == 1
