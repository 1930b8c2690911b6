"""``Docket.call``, ``TaskCall``, ``add_many`` and ``replace_many``: each call keeps the
meaning of a single add or replace; a chunk goes out in one round trip; a Redis
error fails only its own execution."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from docket import Disposition, Docket, ExecutionState, TaskCall, Worker
from docket import instrumentation as instruments
from tests._support.timings import FAST


async def double(n: int) -> int:
    return n * 2


async def echo(value: Any, label: str = "") -> str:
    return f"{label}{value}"


def later(minutes: int = 10) -> datetime:
    return datetime.now(timezone.utc) + timedelta(minutes=minutes)


async def test_call_captures_a_task_call_without_writing(docket: Docket):
    """``call(fn, when=, key=)`` registers the task and fixes time and key; calling
    the result builds a frozen, comparable, unhashable TaskCall and writes nothing."""
    when = later()
    make = docket.call(double, when=when, key="k")
    first, second = make(1), make(n=2)
    # built from the function, it names no alias (None: the message names it)
    assert first == TaskCall(double, (1,), {}, "k", when, None)
    assert second.kwargs == {"n": 2} and second.key == "k" and second.when == when
    assert docket.tasks["double"] is double
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.key = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        hash(first)
    anonymous = docket.call(double)
    assert anonymous(1).key == anonymous(2).key  # a fresh key, shared by its calls
    docket.register(double, names=["twice"])
    assert docket.call("twice")(3).function_name == "twice"
    with pytest.raises(KeyError):
        docket.call("no_such_task")
    assert (await docket.snapshot()).total_tasks == 0


async def test_add_many_schedules_each_call_in_order(docket: Docket):
    """Immediate and future calls are placed, in input order, across chunks; the
    returned executions are queued or scheduled and the worker runs them all."""
    soon = datetime.now(timezone.utc) + timedelta(milliseconds=500)
    calls = [docket.call(double, key=f"now-{n}")(n) for n in range(5)]
    calls += [docket.call(double, when=soon, key=f"later-{n}")(n) for n in range(3)]
    executions = await docket.add_many(calls, chunk_size=3)
    assert [e.key for e in executions] == [c.key for c in calls]
    assert {e.disposition for e in executions} == {Disposition.SCHEDULED}
    assert [e.state for e in executions] == [ExecutionState.QUEUED] * 5 + [
        ExecutionState.SCHEDULED
    ] * 3
    assert all(e.generation == 0 and e.attempt == 1 for e in executions)
    snapshot = await docket.snapshot()
    assert snapshot.total_tasks == 8
    async with Worker(docket, **FAST) as worker:
        await worker.run_until_finished()
    assert [await e.get_result() for e in executions] == [0, 2, 4, 6, 8, 0, 2, 4]


async def test_duplicate_keys_keep_the_first_or_the_last(docket: Docket):
    """In add_many the first call of a key wins (the rest are already scheduled); in
    replace_many every call is scheduled and the last one's arguments stand."""
    added = await docket.add_many([docket.call(echo, key="dup")(n) for n in range(3)])
    assert [e.disposition for e in added] == [
        Disposition.SCHEDULED,
        Disposition.ALREADY_SCHEDULED,
        Disposition.ALREADY_SCHEDULED,
    ]
    replaced = await docket.replace_many(
        [docket.call(echo, when=later(n + 1), key="dup")(f"r{n}") for n in range(3)]
    )
    assert {e.disposition for e in replaced} == {Disposition.SCHEDULED}
    execution = await docket.get_execution("dup")
    assert execution is not None and execution.args == ("r2",)
    assert execution.when == replaced[-1].when


async def test_chunk_size_is_checked_before_anything_is_read(docket: Docket):
    """chunk_size < 1 raises ValueError before the iterable is touched, even an empty
    one; an empty batch returns [] with nothing written; None is a single chunk."""
    touched: list[int] = []

    def calls() -> Iterator[TaskCall]:
        touched.append(1)
        yield docket.call(double)(1)

    for method in (docket.add_many, docket.replace_many):
        with pytest.raises(ValueError, match="chunk_size must be at least 1, got 0"):
            await method(calls(), chunk_size=0)
        with pytest.raises(ValueError, match="got -1"):
            await method([], chunk_size=-1)
        assert await method([]) == []
    assert touched == []
    executions = await docket.add_many(calls(), chunk_size=None)
    assert [e.disposition for e in executions] == [Disposition.SCHEDULED]


async def test_struck_calls_never_reach_redis(docket: Docket):
    """Strikes are checked for every call first: struck ones are STRUCK and unwritten."""
    await docket.strike(echo, "value", "==", "bad")
    executions = await docket.add_many(
        [docket.call(echo, key=f"k{n}")(v) for n, v in enumerate(["ok", "bad", "ok"])]
    )
    assert [e.disposition for e in executions] == [
        Disposition.SCHEDULED,
        Disposition.STRUCK,
        Disposition.SCHEDULED,
    ]
    assert await docket.broker.runs.record("k1") is None


async def test_a_redis_error_fails_only_its_own_execution(
    docket: Docket, monkeypatch: pytest.MonkeyPatch
):
    """A call whose key's record has the wrong type gets WRONGTYPE: that execution is
    FAILED with the error in ``schedule_exception`` and counts nothing; the others
    are scheduled and counted as single adds."""
    added: list[dict[str, Any]] = []
    original = instruments.TASKS_ADDED.add

    def count(amount: float, attributes: Any = None, *rest: Any) -> None:
        added.append(dict(attributes or {}))
        original(amount, attributes, *rest)

    monkeypatch.setattr("docket.instrumentation.TASKS_ADDED.add", count)
    async with docket.redis() as client:
        await client.set(docket.runs_key("broken"), "not a hash")
    executions = await docket.add_many(
        [docket.call(double, key=k)(1) for k in ("before", "broken", "after")]
    )
    assert [e.disposition for e in executions] == [
        Disposition.SCHEDULED,
        Disposition.FAILED,
        Disposition.SCHEDULED,
    ]
    assert "WRONGTYPE" in str(executions[1].schedule_exception)
    assert executions[0].schedule_exception is None
    assert len(added) == 2
    async with Worker(docket, **FAST) as worker:
        await worker.run_until_finished()
    assert await executions[2].get_result() == 2


async def test_a_call_that_cannot_be_built_stops_the_batch(
    docket: Docket, monkeypatch: pytest.MonkeyPatch
):
    """An argument that cannot be pickled raises out of add_many: earlier chunks stay
    scheduled, later executions keep LOADED, and no counter is recorded."""
    added: list[float] = []
    monkeypatch.setattr(
        "docket.instrumentation.TASKS_ADDED.add", lambda n, *a: added.append(n)
    )
    calls = [docket.call(echo, key=f"k{n}")(n) for n in range(4)]
    calls[2] = docket.call(echo, key="k2")(threading.Lock())
    with pytest.raises(TypeError):
        await docket.add_many(calls, chunk_size=2)
    assert (await docket.broker.runs.record("k0")) is not None
    assert (await docket.broker.runs.record("k1")) is not None
    assert (await docket.broker.runs.record("k3")) is None
    assert added == []
    with pytest.raises(TypeError, match="timezone-aware"):
        docket.call(echo, when=datetime.now())  # naive: refused at once
    naive = TaskCall(echo, (1,), {}, "naive", datetime.now())
    with pytest.raises(TypeError, match="timezone-aware"):
        await docket.replace_many([naive])


async def test_call_arguments_and_cycles(docket: Docket, worker: Worker):
    """``CallArgument`` injects another argument's value; a reference cycle fails the
    task with CycleError (a ValueError) inside the dependency ExceptionGroup."""
    from docket import CallArgument, CycleError

    async def total(a: int, b: int = CallArgument("a")) -> int:
        return a + b

    async def loop(a: int = CallArgument("b"), b: int = CallArgument("a")) -> None: ...

    good = await docket.add(total)(21)
    bad = await docket.add(loop)()
    await worker.run_until_finished()
    assert await good.get_result() == 42
    with pytest.raises(Exception) as raised:
        await bad.get_result()
    errors = getattr(raised.value, "exceptions", [])
    assert errors and all(isinstance(e, CycleError) for e in errors)
    assert issubclass(CycleError, ValueError)


async def _reads(docket: Docket) -> int:
    async with docket.redis() as client:
        return int((await client.info("stats"))["total_reads_processed"])


async def test_each_chunk_is_one_round_trip(docket: Docket, backend: str):
    """60 calls in chunks of 20 reach Redis in three round trips (each chunk is one
    write, small enough for one server read), even right after the server forgot
    the script (it is loaded on the first NOSCRIPT)."""
    if backend == "memory":
        pytest.skip("the embedded engine has no round trips to count")
    await docket.add_many([docket.call(double)(0)])
    before = await _reads(docket)
    executions = await docket.add_many(
        [docket.call(double)(n) for n in range(60)], chunk_size=20
    )
    after = await _reads(docket)
    assert after - before - 1 == 3  # minus the first INFO's own read event
    assert {e.disposition for e in executions} == {Disposition.SCHEDULED}
    async with docket.redis() as client:
        await client.script_flush()
    again = await docket.add_many([docket.call(double)(n) for n in range(50)])
    assert {e.disposition for e in again} == {Disposition.SCHEDULED}


async def test_batches_and_single_adds_in_flight_together(docket: Docket):
    """add_many calls and single adds made at the same moment share the connection:
    every one of them is placed once, with its own outcome."""
    outcomes = await asyncio.gather(
        docket.add_many([docket.call(double, key=f"m{n}")(n) for n in range(40)]),
        *(docket.add(double, key=f"s{n}")(n) for n in range(40)),
        docket.add_many([docket.call(double, key=f"m{n}")(n) for n in range(5)]),
    )
    first, *singles, repeated = outcomes
    assert {e.disposition for e in first} == {Disposition.SCHEDULED}
    assert {e.disposition for e in singles} == {Disposition.SCHEDULED}
    assert {e.disposition for e in repeated} == {Disposition.ALREADY_SCHEDULED}
    async with Worker(docket, **FAST) as worker:
        await worker.run_until_finished()
    assert [await e.get_result() for e in first] == [n * 2 for n in range(40)]


async def test_calls_go_out_in_pieces_as_they_are_built(docket: Docket):
    """A chunk's calls are written a piece at a time while the rest are built: when
    call 150 cannot be pickled, the first piece of 100 is placed (and recorded
    SCHEDULED), the piece holding the bad call and everything after stay LOADED."""
    calls = [docket.call(echo, key=f"p{n}")(n) for n in range(300)]
    calls[150] = docket.call(echo, key="p150")(threading.Lock())
    executions: list[Any] = []
    with pytest.raises(TypeError):
        executions = await docket.add_many(calls)
    assert executions == []  # raised: look at what Redis holds
    for n in (0, 99):
        assert (await docket.broker.runs.record(f"p{n}")) is not None
    for n in (100, 149, 151, 299):
        assert (await docket.broker.runs.record(f"p{n}")) is None
