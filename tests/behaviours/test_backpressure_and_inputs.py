"""MaxQueued and bad priority inputs through a real Docket and Worker, on both
backends: a full task type refuses an add with ``QueueFull`` and writes nothing,
running tasks do not count, a replace of a waiting key is not refused for it,
``add_many`` marks only the refused call; every bad ``priority=``, ``Priority``,
``MaxQueued`` and ``TaskCall.priority`` is refused before anything is written, and
a message carrying a bad priority field is dead-lettered, its batch-mates run."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import cloudpickle  # type: ignore[import-untyped]
import pytest

from docket import (
    Disposition,
    Docket,
    DocketError,
    MaxQueued,
    Priority,
    QueueFull,
    TaskCall,
    Worker,
)
from tests.conftest import eventually

RAN: list[str] = []
GATES: list[asyncio.Event] = []  # one per test, made in its own event loop


async def export(job: str, limit: MaxQueued = MaxQueued(2)) -> None:
    RAN.append(job)


async def slow_export(job: str, limit: MaxQueued = MaxQueued(1)) -> None:
    RAN.append(job)
    await GATES[-1].wait()


async def plain(job: str) -> None:
    RAN.append(job)


@pytest.fixture(autouse=True)
async def fresh() -> None:
    RAN.clear()
    GATES.append(asyncio.Event())


async def waiting_keys(docket: Docket) -> int:
    depths = await docket.broker.queue.depths()
    return depths[0] + depths[1] + sum((await docket.broker.lanes.depths()).values())


@pytest.mark.cluster_ok
async def test_a_full_task_type_refuses_the_add(docket: Docket) -> None:
    """MaxQueued(2): the third waiting task is refused with QueueFull (a
    DocketError) naming the task and limit, and nothing is written for it; the
    two run, after which the type takes adds again."""
    docket.register(export)
    await docket.add(export, key="a")("a")
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    await docket.add(export, when=later, key="b")("b")  # scheduled counts too
    with pytest.raises(QueueFull) as refused:
        await docket.add(export, key="c")("c")
    assert isinstance(refused.value, DocketError)
    assert (refused.value.task, refused.value.limit, refused.value.key) == (
        "export",
        2,
        "c",
    )
    assert "MaxQueued(2)" in str(refused.value)
    assert await docket.get_execution("c") is None
    await docket.cancel("b")
    await docket.add(export, key="c")("c")  # a cancelled one stopped waiting
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert sorted(RAN) == ["a", "c"]
    await docket.add(export, key="d")("d")
    await docket.add(export, key="e")("e")


async def test_running_tasks_do_not_count(docket: Docket) -> None:
    """MaxQueued(1): while one runs, another may wait; a second waiting one is
    refused."""
    docket.register(slow_export)
    await docket.add(slow_export, key="one")("one")
    check = timedelta(milliseconds=5)
    async with Worker(docket, concurrency=1, minimum_check_interval=check) as w:
        running = asyncio.ensure_future(w.run_forever())
        try:
            await eventually(lambda: RAN == ["one"])
            await docket.add(slow_export, key="two")("two")
            with pytest.raises(QueueFull):
                await docket.add(slow_export, key="three")("three")
            GATES[-1].set()
            await eventually(lambda: RAN == ["one", "two"])
        finally:
            GATES[-1].set()
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)


async def test_replace_of_a_waiting_key_takes_its_own_place(docket: Docket) -> None:
    """A replace of a key that already waits is not refused for that key."""
    docket.register(export)
    await docket.add(export, key="a")("a")
    await docket.add(export, key="b")("b")
    now = datetime.now(timezone.utc)
    await docket.replace(export, now, "b")("b-again")
    with pytest.raises(QueueFull):
        await docket.replace(export, now, "c")("c")
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert sorted(RAN) == ["a", "b-again"]


async def test_add_many_marks_only_the_refused_call(docket: Docket) -> None:
    """In add_many the call beyond the limit ends FAILED with QueueFull in
    schedule_exception; the others are placed."""
    docket.register(export)
    executions = await docket.add_many([docket.call(export)(f"j{n}") for n in range(3)])
    assert [e.disposition for e in executions] == [
        Disposition.SCHEDULED,
        Disposition.SCHEDULED,
        Disposition.FAILED,
    ]
    assert isinstance(executions[2].schedule_exception, QueueFull)
    assert await waiting_keys(docket) == 2


@pytest.mark.parametrize(
    "bad, error",
    [
        (0, ValueError),
        (10, ValueError),
        (-1, ValueError),
        ("5", TypeError),
        (5.0, TypeError),
        (True, TypeError),
    ],
)
async def test_bad_priorities_are_refused_before_anything_is_written(
    docket: Docket, bad: Any, error: type[Exception]
) -> None:
    """priority= on add, replace and call, Priority(n) and TaskCall.priority in
    add_many: anything but an int from 1 to 9 raises, and nothing is written."""
    docket.register(plain)
    now = datetime.now(timezone.utc)
    with pytest.raises(error, match="priority"):
        await docket.add(plain, key="k1", priority=bad)("x")
    with pytest.raises(error, match="priority"):
        await docket.replace(plain, now, "k2", priority=bad)("x")
    with pytest.raises(error, match="priority"):
        docket.call(plain, key="k3", priority=bad)
    with pytest.raises(error, match="Priority"):
        Priority(bad)
    call = TaskCall(plain, ("x",), {}, "k4", now, priority=bad)
    with pytest.raises(error, match="priority"):
        await docket.add_many([call])
    for key in ("k1", "k2", "k3", "k4"):
        assert await docket.get_execution(key) is None
    assert await waiting_keys(docket) == 0


@pytest.mark.parametrize(
    "bad, error",
    [(0, ValueError), (-3, ValueError), ("2", TypeError), (True, TypeError)],
)
def test_bad_max_queued_limits_are_refused(bad: Any, error: type[Exception]) -> None:
    """MaxQueued needs an int of at least 1."""
    with pytest.raises(error, match="MaxQueued"):
        MaxQueued(bad)


@pytest.mark.parametrize("field", [b"0", b"10", b"high", b""])
async def test_a_message_with_a_bad_priority_is_dead_lettered(
    docket: Docket, field: bytes
) -> None:
    """An entry written straight into the stream with a bad priority field lands in
    the dead letters (malformed); the good tasks around it run."""
    docket.register(plain)
    await docket.add(plain)("before")
    async with docket.redis() as client:
        await client.xadd(
            docket.stream_key,
            {
                b"key": b"poison",
                b"when": datetime.now(timezone.utc).isoformat().encode(),
                b"function": b"plain",
                b"args": cloudpickle.dumps(("poison",)),
                b"kwargs": cloudpickle.dumps({}),
                b"attempt": b"1",
                b"generation": b"0",
                b"priority": field,
            },
        )
    await docket.add(plain)("after")
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert sorted(RAN) == ["after", "before"]
    letters = await docket.dead_letters.list()
    assert [letter.key for letter in letters] == ["poison"]
    assert "priority" in (letters[0].detail or "")


async def test_a_follower_waiting_for_its_parent_counts(docket: Docket) -> None:
    """MaxQueued(2): a task added ``after=`` a parent that has not run yet waits,
    and counts among its type's waiting tasks: with one more waiting, a third add
    is refused."""
    docket.register(plain)
    docket.register(export)
    parent = await docket.add(plain, key="parent")("parent")
    await docket.add(export, key="follower", after=[parent])("follower")
    await docket.add(export, key="second")("second")
    with pytest.raises(QueueFull):
        await docket.add(export, key="third")("third")
