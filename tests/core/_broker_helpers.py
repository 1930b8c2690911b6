"""Helpers shared by the broker contract tests (``tests/core/test_broker_*.py``).

Those tests talk to ``docket.broker`` directly (the operations seam), so they pin
what each script does to the keyspace, independently of the worker built on it.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from docket._broker import Broker, Delivery, Settlement
from docket._codec import Codec

TTL = 60
dumps = Codec().encode
STARTED = "2026-01-01T00:00:00+00:00"
FINISHED = "2026-01-01T00:00:01+00:00"


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
    status = await broker.queue.schedule(
        key,
        when,
        immediate,
        mode,
        fields_for(key, args, generation=generation),
        reschedule_from,
    )
    return status == "OK"


async def read_one(broker: Broker, consumer: str = "w1") -> Delivery:
    """Read exactly one message for ``consumer`` (creating the group if needed)."""
    await broker.ensure_group()
    deliveries = await broker.queue.read(consumer, 10, 10)
    assert len(deliveries) == 1
    return deliveries[0]


def generation_of(delivery: Delivery) -> int:
    return int(delivery.fields[b"generation"])


async def claim_one(broker: Broker, key: str, delivery: Delivery) -> bool:
    (claimed,) = await broker.runs.claim(
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
    raw = await broker.client.hgetall(broker.keys.runs(key))
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
    pubsub = broker.events.subscriber()
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
