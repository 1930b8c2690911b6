"""Any string works as a task key (the docket's own key names included), and
every state and progress event published for it is valid JSON naming that key."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from docket import (
    ConcurrencyLimit,
    Docket,
    ExecutionState,
    Progress,
    Worker,
)
from docket.execution import ExecutionProgress
from tests._support.timings import FAST
from tests.conftest import eventually

# Quotes, backslashes, line breaks, tabs, NUL, bell, escape, DEL, a slash-u
# lookalike and text outside ASCII. (The record and field separators \x1e and \x1f
# are covered by the worker's batch encoding, which is tested with it.)
KEYS = [
    'say "hi"',
    "back\\slash",
    "two\nlines\r\n",
    "tab\tbed",
    "nul\x00byte",
    "bell\x07 esc\x1b[31m del\x7f",
    "\\u0041 not an escape",
    "ключ-🔑",
]


@asynccontextmanager
async def all_events(docket: Docket) -> AsyncIterator[list[dict[str, Any]]]:
    """Every state and progress event of the docket, parsed (a parse error fails)."""
    await docket.broker.events.mark_listening(60)
    pubsub = docket.broker.events.subscriber()
    await pubsub.psubscribe(f"{docket.prefix}:state:*", f"{docket.prefix}:progress:*")
    confirmed = 0
    while confirmed < 2:
        message = await pubsub.get_message(timeout=1.0)
        if message is not None and message["type"] == "psubscribe":
            confirmed += 1
    events: list[dict[str, Any]] = []

    async def collect() -> None:
        while True:
            message = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=1.0
            )
            if message is None:
                continue
            channel = message["channel"]
            channel = channel.decode() if isinstance(channel, bytes) else channel
            event = json.loads(message["data"])
            assert channel.endswith(":" + event["key"]), (channel, event)
            events.append(event)

    reader = asyncio.ensure_future(collect())
    try:
        yield events
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await pubsub.punsubscribe()
        await pubsub.aclose()


def states_of(events: list[dict[str, Any]], key: str) -> list[str]:
    return [e["state"] for e in events if e["type"] == "state" and e["key"] == key]


async def test_tasks_with_any_key_run_and_their_events_parse(docket: Docket):
    """Immediate and future tasks under awkward keys complete; each one's scheduled,
    queued, running, completed and progress events are valid JSON with its key."""
    seen: list[tuple[str, int]] = []

    async def step(n: int, progress: ExecutionProgress = Progress()) -> int:
        await progress.set_total(2)
        await progress.increment()
        await progress.set_message(f"step {n}")
        return n

    soon = datetime.now(timezone.utc) + timedelta(milliseconds=500)
    async with all_events(docket) as events:
        executions = []
        for n, key in enumerate(KEYS):
            when = soon if n % 2 else None
            executions.append(await docket.add(step, when=when, key=key)(n))
        async with Worker(docket, **FAST) as worker:
            await asyncio.wait_for(worker.run_until_finished(), 15)
        for n, execution in enumerate(executions):
            assert await execution.get_result(timeout=timedelta(seconds=5)) == n
            seen.append((execution.key, n))
        await eventually(
            lambda: all(states_of(events, k)[-1:] == ["completed"] for k in KEYS)
        )
    assert [key for key, _ in seen] == KEYS
    for n, key in enumerate(KEYS):
        expected = ["scheduled", "queued"] if n % 2 else ["queued"]
        assert states_of(events, key) == [*expected, "running", "completed"]
        progress = [e for e in events if e["type"] == "progress" and e["key"] == key]
        assert progress[-1]["message"] == f"step {n}"
    for key in KEYS:
        record = await docket.broker.runs.record(key)
        assert record is not None and record.state == "completed"


async def test_cancel_replace_and_clear_any_key(docket: Docket):
    """cancel, replace and clear work on awkward keys; their events parse."""

    async def noop() -> None: ...

    later = datetime.now(timezone.utc) + timedelta(hours=1)
    async with all_events(docket) as events:
        for key in KEYS:
            await docket.add(noop, when=later, key=key)()
            await docket.replace(noop, later, key)()
            await docket.cancel(key)
            await docket.add(noop, key=key)()
        assert await docket.clear() == len(KEYS)
        await eventually(
            lambda: all(states_of(events, k)[-1:] == ["cancelled"] for k in KEYS)
        )
    for key in KEYS:
        assert states_of(events, key) == [
            "scheduled",
            "scheduled",
            "cancelled",
            "queued",
            "cancelled",
        ]
        execution = await docket.get_execution(key)
        assert execution is not None and execution.state is ExecutionState.CANCELLED


async def test_parked_and_woken_keys_publish_valid_events(docket: Docket):
    """A concurrency limit parks and wakes awkward keys; those events parse too."""
    gate = asyncio.Event()

    async def one_at_a_time(
        limit: ConcurrencyLimit = ConcurrencyLimit(max_concurrent=1),
    ) -> None:
        await asyncio.wait_for(gate.wait(), 10)

    async with all_events(docket) as events:
        for key in KEYS[:3]:
            await docket.add(one_at_a_time, key=key)()
        async with Worker(docket, **FAST) as worker:
            run = asyncio.ensure_future(worker.run_until_finished())
            await eventually(
                lambda: sum("scheduled" in states_of(events, k) for k in KEYS[:3]) == 2
            )
            gate.set()
            await asyncio.wait_for(run, 15)
        await eventually(
            lambda: all(states_of(events, k)[-1:] == ["completed"] for k in KEYS[:3])
        )


async def test_keys_that_are_not_text_get_a_clear_error(docket: Docket):
    """A key that cannot be encoded (a lone surrogate) is refused before any write."""

    async def noop() -> None: ...

    with pytest.raises(ValueError, match="UTF-8"):
        await docket.add(noop, key="half\ud800")()
    started = time.monotonic()
    assert (await docket.snapshot()).total_tasks == 0
    assert time.monotonic() - started < 5
