"""Poison entries: a bad stream entry is dead-lettered, and only it.

Each test writes an entry straight into the stream (as anyone who can write to
Redis could) between good tasks, then runs a worker: the worker keeps running,
every good task completes, and the bad entry lands in ``P:dead`` with its reason.
"""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta, timezone
from typing import Any

import cloudpickle  # type: ignore[import-untyped]
import pytest

from docket import Docket, Execution, ExecutionState, Worker

done: list[str] = []


async def good(label: str) -> None:
    done.append(label)


def message(task_key: str, **overrides: bytes) -> dict[bytes, bytes]:
    fields = {
        b"key": task_key.encode(),
        b"when": datetime.now(timezone.utc).isoformat().encode(),
        b"function": b"good",
        b"args": cloudpickle.dumps((task_key,)),
        b"kwargs": cloudpickle.dumps({}),
        b"attempt": b"1",
        b"generation": b"0",
    }
    fields.update({name.encode(): value for name, value in overrides.items()})
    return fields


async def run_with_poison(
    docket: Docket, worker: Worker, poison: dict[bytes, bytes]
) -> list[Execution]:
    """Good tasks around one poison entry; run until finished; the good executions."""
    done.clear()
    docket.register(good)
    before = [
        await docket.add(good, key=f"before-{i}")(f"before-{i}") for i in range(3)
    ]
    async with docket.redis() as client:
        await client.xadd(docket.stream_key, poison)
    after = [await docket.add(good, key=f"after-{i}")(f"after-{i}") for i in range(3)]
    await worker.run_until_finished()
    return before + after


async def assert_good_ran(executions: list[Execution]) -> None:
    assert sorted(done) == sorted(e.key for e in executions)
    for execution in executions:
        await execution.sync()
        assert execution.state is ExecutionState.COMPLETED


POISONS: dict[str, tuple[dict[str, bytes], str, str]] = {
    "non-integer generation": (
        {"generation": b"two"},
        "malformed-message",
        "'generation' field is not an integer",
    ),
    "negative attempt": ({"attempt": b"-1"}, "malformed-message", "'attempt'"),
    "when without a time zone": (
        {"when": datetime.now().isoformat().encode()},
        "malformed-message",
        "no time zone",
    ),
    "when that is not a time": (
        {"when": b"yesterday"},
        "malformed-message",
        "not an ISO time",
    ),
    "args that are not a sequence": (
        {"args": cloudpickle.dumps({"a": "dict"})},
        "malformed-message",
        "'args' is a dict, not a tuple or a list",
    ),
    "kwargs that are not a dict": (
        {"kwargs": cloudpickle.dumps(("a", "tuple"))},
        "malformed-message",
        "'kwargs' is a tuple",
    ),
    "kwargs with a non-string key": (
        {"kwargs": cloudpickle.dumps({1: "one"})},
        "malformed-message",
        "not a dict of str keys",
    ),
    "a payload that cannot be unpickled": (
        {"args": b"\x80\x05not a pickle"},
        "unreadable-payload",
        "cannot be loaded",
    ),
    "a payload of an unknown class": (
        {
            "args": pickle.dumps((timezone.utc,), protocol=0).replace(
                b"datetime", b"nomod"
            )
        },
        "unreadable-payload",
        "cannot be loaded",
    ),
    "a key that is not UTF-8": (
        {"key": b"\xff\xfe"},
        "malformed-message",
        "'key' field is not UTF-8",
    ),
}


@pytest.mark.parametrize("kind", sorted(POISONS))
async def test_a_poison_entry_is_dead_lettered_and_its_batch_mates_run(
    docket: Docket, worker: Worker, kind: str
):
    """Each kind of malformed entry ends in P:dead with its reason; the rest run."""
    overrides, reason, detail = POISONS[kind]
    good_ones = await run_with_poison(docket, worker, message("poison", **overrides))
    await assert_good_ran(good_ones)
    (letter,) = await docket.dead_letters.list()
    assert letter.reason == reason
    assert detail in letter.detail
    assert letter.worker == worker.name
    assert letter.dead_at is not None
    assert letter.fields[b"function"] == b"good"
    async with docket.redis() as client:
        assert await client.xlen(docket.stream_key) == 0  # acknowledged and deleted


async def test_an_entry_missing_its_fields_is_dead_lettered(
    docket: Docket, worker: Worker
):
    """An entry with no task fields at all (say, {'hello': 'world'}) is refused."""
    good_ones = await run_with_poison(docket, worker, {b"hello": b"world"})
    await assert_good_ran(good_ones)
    (letter,) = await docket.dead_letters.list()
    assert letter.reason == "malformed-message"
    assert "'key' field is missing" in letter.detail
    assert letter.fields == {b"hello": b"world"}


@pytest.mark.parametrize("separator", ["\x1e", "\x1f", ":", "\n", '"'])
async def test_keys_with_any_character_run_beside_others(
    docket: Docket, worker: Worker, separator: str
):
    """A key holding the old batch separators (or colons, quotes, newlines) is a
    valid task: it runs, and so does everything claimed and settled with it."""
    key = f"odd{separator}key{separator}"
    good_ones = await run_with_poison(docket, worker, message(key))
    assert key in done
    done.remove(key)
    await assert_good_ran(good_ones)
    assert await docket.dead_letters.list() == []


async def test_a_dead_lettered_task_fails_its_record_and_frees_its_key(
    docket: Docket, worker: Worker
):
    """A scheduled task whose message went bad ends FAILED (waiters are released)
    and its key can be added again."""
    docket.register(good)
    execution = await docket.add(good, key="spoiled")("spoiled")
    async with docket.redis() as client:
        ((message_id, fields),) = await client.xrange(docket.stream_key)
        await client.xdel(docket.stream_key, message_id)
        fields[b"args"] = b"garbage"
        await client.xadd(docket.stream_key, fields)
    await worker.run_until_finished()
    await execution.sync()
    assert execution.state is ExecutionState.FAILED
    assert execution.error is not None and "unreadable-payload" in execution.error
    with pytest.raises(Exception, match="dead-lettered"):
        await execution.get_result(timeout=timedelta(seconds=5))
    again = await docket.add(good, key="spoiled")("fresh")
    await worker.run_until_finished()
    await again.sync()
    assert again.state is ExecutionState.COMPLETED


async def test_a_strike_comparison_that_raises_never_matches(
    docket: Docket, worker: Worker
):
    """An argument whose __eq__ raises AttributeError neither breaks add() nor the
    worker when a strike names its parameter: it simply does not match."""

    class Touchy:
        def __eq__(self, other: Any) -> bool:
            raise AttributeError("no comparing me")

        __hash__ = object.__hash__

    ran: list[Any] = []

    async def takes(thing: Any) -> None:
        ran.append(thing)

    docket.register(takes)
    await docket.strike(takes, "thing", "==", "forbidden")
    execution = await docket.add(takes)(Touchy())
    await worker.run_until_finished()
    await execution.sync()
    assert execution.state is ExecutionState.COMPLETED
    assert len(ran) == 1
