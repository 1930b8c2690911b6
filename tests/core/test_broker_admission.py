"""The admission scripts' contract (lua/concurrency_*, debounce, ratelimit, cooldown).

These talk to ``docket.broker`` directly, on both backends, with explicit clock
values, so each decision is pinned independently of the worker.
"""

from __future__ import annotations

import time

from docket import Docket, _clock
from docket._broker.admission import DROP, PROCEED, RESCHEDULE, SlotTimes
from docket.execution import Execution

SLOT_MS = 300_000


async def task(label: str) -> None:
    """The task whose messages these tests admit."""


async def claimed(docket: Docket, key: str) -> Execution:
    """Add ``key`` now, read its message as worker 'w' and claim it."""
    await docket.add(task, key=key)(key)
    broker = docket.broker
    await broker.ensure_group()
    (delivery,) = await broker.queue.read("w", 1, 1)
    execution = Execution.from_fields(
        docket, delivery.fields, task, message_id=delivery.message_id
    )
    assert await broker.runs.claim(
        "w",
        "2026-01-01T00:00:00+00:00",
        [(key, execution.generation, delivery.message_id, False)],
    ) == [True]
    return execution


async def admit(docket: Docket, execution: Execution, slot: str, now: float) -> object:
    return await docket.broker.admission.concurrency_acquire(
        slot,
        execution.key,
        execution.generation,
        execution.message_id,
        execution.redelivered,
        1,
        SlotTimes(now, 300),
        execution.as_message(),
    )


async def test_a_full_slot_parks_and_a_release_wakes_first_in_first_out(
    docket: Docket,
):
    """Park acks the message and records 'scheduled'; release forwards the oldest."""
    slot = f"{docket.prefix}:concurrency:task"
    now = time.time()
    holder = await claimed(docket, "holder")
    assert (await admit(docket, holder, slot, now)).acquired  # type: ignore[attr-defined]
    first, second = await claimed(docket, "first"), await claimed(docket, "second")
    parked = [await admit(docket, e, slot, now) for e in (first, second)]
    assert [p.acquired for p in parked] == [False, False]  # type: ignore[attr-defined]

    async with docket.redis() as client:
        entries = await client.xrange(docket.stream_key)  # parked: acked and deleted
        assert [fields[b"key"] for _, fields in entries] == [b"holder"]
        assert await client.xlen(f"{slot}:waiters") == 2
        record = await client.hgetall(docket.runs_key("first"))
        assert record[b"state"] == b"scheduled"
        assert int(record[b"generation"]) == first.generation + 1
        assert record[b"waiter_stream"] == f"{slot}:waiters".encode()

        woken, _ = await docket.broker.admission.concurrency_release(
            slot, "holder", 1, SlotTimes(now, 300)
        )
        assert woken == 1
        entries = (await client.xrange(docket.stream_key))[1:]
        assert [fields[b"key"] for _, fields in entries] == [b"first"]
        assert entries[0][1][b"generation"] == str(first.generation + 2).encode()
        record = await client.hgetall(docket.runs_key("first"))
        assert record[b"state"] == b"queued"
        assert record[b"stream_id"] == entries[0][0]
        assert b"waiter_stream" not in record
        assert await client.zrange(slot, 0, -1) == [b"first"]  # reserved for it
        assert await client.xlen(f"{slot}:waiters") == 1


async def test_a_reserved_slot_is_taken_by_its_woken_generation_only(docket: Docket):
    """The woken message takes its reservation; the key's older copy would park."""
    slot = f"{docket.prefix}:concurrency:task"
    now = time.time()
    holder, waiter = await claimed(docket, "holder"), await claimed(docket, "waiter")
    await admit(docket, holder, slot, now)
    await admit(docket, waiter, slot, now)
    await docket.broker.admission.concurrency_release(
        slot, "holder", 1, SlotTimes(now, 300)
    )
    (delivery,) = await docket.broker.queue.read("w", 1, 1)
    woken = Execution.from_fields(
        docket, delivery.fields, task, message_id=delivery.message_id
    )
    assert (await admit(docket, woken, slot, now)).acquired is True  # type: ignore[attr-defined]
    # The key's older copy (say, a replaced run still going) may not share it.
    assert (await admit(docket, waiter, slot, now)).acquired is False  # type: ignore[attr-defined]


async def test_cancelled_waiters_are_discarded_at_wake(docket: Docket):
    """A waiter whose record says cancelled is dropped; the next one is woken."""
    slot = f"{docket.prefix}:concurrency:task"
    now = time.time()
    holder = await claimed(docket, "holder")
    await admit(docket, holder, slot, now)
    for key in ("gone", "next"):
        await admit(docket, await claimed(docket, key), slot, now)
    await docket.cancel("gone")
    woken, _ = await docket.broker.admission.concurrency_release(
        slot, "holder", 1, SlotTimes(now, 300)
    )
    assert woken == 1
    async with docket.redis() as client:
        entries = await client.xrange(docket.stream_key)
        assert [fields[b"key"] for _, fields in entries] == [b"holder", b"next"]
        assert await client.exists(f"{slot}:waiters") == 0  # deleted once empty


async def test_stale_and_finished_holders_are_evicted(docket: Docket):
    """A member that stopped renewing, or whose run is over, loses its slot."""
    slot = f"{docket.prefix}:concurrency:task"
    now = time.time()
    async with docket.redis() as client:
        await client.zadd(slot, {"stale": now - 301})
        await client.hset(docket.runs_key("stale"), mapping={"state": "running"})
        execution = await claimed(docket, "fresh")
        assert (await admit(docket, execution, slot, now)).acquired  # type: ignore[attr-defined]
        assert await client.zrange(slot, 0, -1) == [b"fresh"]
        await client.zadd(slot, {"done": now})
        await client.hset(docket.runs_key("done"), mapping={"state": "completed"})
        other = await claimed(docket, "other")
        await docket.broker.admission.concurrency_release(
            slot, "fresh", 1, SlotTimes(now, 300)
        )
        assert (await admit(docket, other, slot, now)).acquired  # type: ignore[attr-defined]


async def test_renew_refreshes_only_current_holders(docket: Docket):
    """Renewal moves a holder's score; an evicted holder does not come back."""
    slot = f"{docket.prefix}:concurrency:task"
    broker = docket.broker
    async with docket.redis() as client:
        await client.zadd(slot, {"holder": 1.0})
        assert (
            await broker.admission.concurrency_renew(slot, "holder", 50.0, SLOT_MS)
            is True
        )
        assert await client.zscore(slot, "holder") == 50.0
        assert (
            await broker.admission.concurrency_renew(slot, "evicted", 50.0, SLOT_MS)
            is False
        )
        assert await client.zscore(slot, "evicted") is None


async def test_cancel_cleanup_removes_the_waiter_entry(docket: Docket):
    """After a cancel, the parked entry and the waiter fields go at once."""
    slot = f"{docket.prefix}:concurrency:task"
    now = time.time()
    await admit(docket, await claimed(docket, "holder"), slot, now)
    await admit(docket, await claimed(docket, "waiter"), slot, now)
    assert (
        await docket.broker.admission.concurrency_cleanup("waiter") is False
    )  # not cancelled
    await docket.cancel("waiter")
    assert await docket.broker.admission.concurrency_cleanup("waiter") is True
    async with docket.redis() as client:
        assert await client.exists(f"{slot}:waiters") == 0
        assert await client.hget(docket.runs_key("waiter"), "waiter_entry_id") is None


async def test_debounce_decisions(docket: Docket):
    """First wins and waits; others drop; the winner runs once quiet; lost winners go."""
    keys = (
        f"{docket.name}:debounce:t:{{t}}:winner",
        f"{docket.name}:debounce:t:{{t}}:last_seen",
    )
    d = docket.broker.admission.debounce
    assert await d(keys, "a", 1000, 100, lost_ms=500) == (RESCHEDULE, 100)
    assert await d(keys, "b", 1050, 100, lost_ms=500) == (DROP, 0)
    assert await d(keys, "a", 1100, 100, lost_ms=500) == (RESCHEDULE, 50)
    assert await d(keys, "a", 1150, 100, lost_ms=500) == (PROCEED, 0)
    async with docket.redis() as client:
        assert await client.exists(*keys) == 0
    assert await d(keys, "c", 2000, 100, lost_ms=500) == (RESCHEDULE, 100)
    assert await d(keys, "d", 2400, 100, lost_ms=500) == (DROP, 0)
    assert await d(keys, "e", 2501, 100, lost_ms=500) == (RESCHEDULE, 100)  # c is lost
    assert await d(keys, "e", 2601, 100, lost_ms=500) == (PROCEED, 0)


async def test_rate_limit_decisions(docket: Docket):
    """A sliding window: the third start waits for the oldest to leave it."""
    key = f"{docket.name}:ratelimit:task"
    r = docket.broker.admission.rate_limit
    assert await r(key, "a:0", 0, 1000, 2) == (PROCEED, 0)
    assert await r(key, "b:10", 10, 1000, 2) == (PROCEED, 0)
    assert await r(key, "c:20", 20, 1000, 2) == (RESCHEDULE, 980)
    assert await r(key, "b:10", 30, 1000, 2) == (
        PROCEED,
        0,
    )  # the same start counts once
    assert await r(key, "c:1000", 1000, 1000, 2) == (PROCEED, 0)  # a left the window
    await docket.broker.admission.rate_limit_release(key, "c:1000")
    assert await r(key, "d:1001", 1001, 1000, 2) == (PROCEED, 0)


async def test_cooldown_decisions(docket: Docket):
    """The first token opens the window; the same token passes again; release by owner."""
    key = f"{docket.name}:cooldown:task"
    broker = docket.broker
    assert await broker.admission.cooldown(key, "1:a", 60_000) is True
    assert await broker.admission.cooldown(key, "1:b", 60_000) is False
    assert (
        await broker.admission.cooldown(key, "1:a", 60_000) is True
    )  # a redelivery of a
    await broker.admission.cooldown_release(
        key, "1:b"
    )  # not the owner: nothing happens
    assert await broker.admission.cooldown(key, "1:c", 60_000) is False
    await broker.admission.cooldown_release(key, "1:a")
    assert await broker.admission.cooldown(key, "1:c", 60_000) is True


async def test_a_cooldown_window_ends_by_the_workers_clock(docket: Docket):
    """The window's end is kept in its value: once the worker's clock is past it,
    the window is over although the key (PX window) still lives in Redis; a
    pydocket-style value without an end ("1") still blocks until it expires."""
    key = f"{docket.name}:cooldown:task"
    broker = docket.broker
    now = time.time()
    try:
        _clock.use(lambda: now)
        assert await broker.admission.cooldown(key, "1:a", 60_000) is True
        async with docket.redis() as client:
            assert (await client.get(key)).endswith(
                f"@{int(now * 1000) + 60_000}".encode()
            )
        _clock.use(lambda: now + 59.9)
        assert await broker.admission.cooldown(key, "1:b", 60_000) is False
        _clock.use(lambda: now + 60)
        assert (
            await broker.admission.cooldown(key, "1:b", 60_000) is True
        )  # a new window
        assert await broker.admission.cooldown(key, "1:c", 60_000) is False
        await broker.admission.cooldown_release(key, "1:b")
        async with docket.redis() as client:
            assert await client.exists(key) == 0
            await client.set(key, "1", px=60_000)
        _clock.use(lambda: now + 3600)
        assert await broker.admission.cooldown(key, "1:d", 60_000) is False
    finally:
        _clock.restore()
