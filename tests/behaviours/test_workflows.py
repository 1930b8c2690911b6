"""Tasks added with ``after=``: they wait (WAITING) until every parent's run has
ended, and are released (or cancelled) in the same step that ends the last one."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from docket import (
    CycleError,
    Docket,
    Execution,
    ExecutionCancelled,
    ExecutionState,
    Perpetual,
    Retry,
    Worker,
)
from docket._states import UnknownParent
from tests._support.timings import FAST

log: list[str] = []


async def step(name: str) -> str:
    log.append(name)
    return name


async def broken(name: str) -> None:
    log.append(name)
    raise RuntimeError(f"{name} broke")


async def flaky(name: str, retry: Retry = Retry(attempts=3)) -> str:
    log.append(f"{name}#{retry.attempt}")
    if retry.attempt < 3:
        raise RuntimeError("not yet")
    return name


@pytest.fixture(autouse=True)
def _tasks(docket: Docket) -> None:
    log.clear()
    for task in (step, broken, flaky):
        docket.register(task)


async def run(docket: Docket) -> None:
    async with Worker(docket, **FAST) as worker:
        await worker.run_until_finished()


async def state(docket: Docket, key: str) -> ExecutionState | None:
    execution = await docket.get_execution(key)
    return None if execution is None else execution.state


async def test_a_follower_waits_for_every_parent_then_runs_once(docket: Docket):
    """A task added after two parents (an Execution and a key) is WAITING until
    both have ended, then runs once, after them."""
    a = await docket.add(step, key="a")("a")
    await docket.add(step, key="b")("b")
    c = await docket.add(step, key="c", after=[a, "b"])("c")
    assert c.state is ExecutionState.WAITING
    assert await state(docket, "c") is ExecutionState.WAITING
    await run(docket)
    assert sorted(log[:2]) == ["a", "b"] and log[2:] == ["c"]
    assert await state(docket, "c") is ExecutionState.COMPLETED


async def test_a_parent_that_already_ended_counts_with_its_outcome(docket: Docket):
    """A parent that completed before the follower was added counts as ended: the
    follower goes straight to the queue; one that failed cancels it at once."""
    await docket.add(step, key="done")("done")
    await docket.add(broken, key="bad")("bad")
    await run(docket)
    ok = await docket.add(step, key="next", after="done")("next")
    assert ok.state is ExecutionState.QUEUED
    cancelled = await docket.add(step, key="never", after="bad")("never")
    assert cancelled.state is ExecutionState.CANCELLED
    await run(docket)
    assert "next" in log and "never" not in log
    with pytest.raises(ExecutionCancelled):
        await cancelled.get_result(timeout=timedelta(seconds=5))


async def test_an_unknown_parent_is_refused_and_nothing_is_written(docket: Docket):
    """A parent key the docket has no record of raises UnknownParent at add time,
    and the follower is not recorded."""
    with pytest.raises(UnknownParent, match="'nope'"):
        await docket.add(step, key="f", after="nope")("f")
    assert await docket.get_execution("f") is None


async def test_a_gate_waiting_for_itself_is_a_cycle(docket: Docket):
    """after= naming the task's own key, or a replace that would make two waiting
    tasks wait for each other, raises CycleError and changes nothing."""
    with pytest.raises(CycleError):
        await docket.add(step, key="self", after="self")("self")
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    await docket.add(step, when=later, key="p")("p")
    await docket.add(step, key="q", after="p")("q")
    with pytest.raises(CycleError, match="'q'"):
        await docket.replace(step, later, "p", after="q")("p")
    assert await state(docket, "p") is ExecutionState.SCHEDULED
    assert await state(docket, "q") is ExecutionState.WAITING


async def test_a_failed_parent_cancels_its_followers_and_theirs(docket: Docket):
    """Under the default policy a parent that fails cancels its waiting follower,
    and that cancellation cancels the follower's own followers in turn."""
    await docket.add(broken, key="root")("root")
    await docket.add(step, key="child", after="root")("child")
    grandchild = await docket.add(step, key="grandchild", after="child")("gc")
    await run(docket)
    assert log == ["root"]
    assert await state(docket, "child") is ExecutionState.CANCELLED
    assert await state(docket, "grandchild") is ExecutionState.CANCELLED
    with pytest.raises(ExecutionCancelled):
        await grandchild.get_result(timeout=timedelta(seconds=5))


async def test_policy_run_runs_the_follower_whatever_the_outcome(docket: Docket):
    """on_parent_failure="run" releases the follower once every parent has ended,
    failed ones included."""
    await docket.add(broken, key="bad")("bad")
    await docket.add(step, key="ok")("ok")
    await docket.add(step, key="after", after=["bad", "ok"], on_parent_failure="run")(
        "after"
    )
    await run(docket)
    assert log[-1] == "after"


async def test_a_waiting_task_can_be_cancelled(docket: Docket):
    """cancel() of a WAITING task leaves a CANCELLED record; its parents ending
    later do not release it, and its key can be added again."""
    later = datetime.now(timezone.utc) + timedelta(milliseconds=200)
    await docket.add(step, when=later, key="slow")("slow")
    follower = await docket.add(step, key="w", after="slow")("w")
    await docket.cancel("w")
    assert await state(docket, "w") is ExecutionState.CANCELLED
    with pytest.raises(ExecutionCancelled):
        await follower.get_result(timeout=timedelta(seconds=5))
    await run(docket)
    assert log == ["slow"]
    again = await docket.add(step, key="w")("again")
    assert again.state is ExecutionState.QUEUED


async def test_a_replaced_parent_keeps_its_waiters(docket: Docket):
    """replace() of a parent keeps the tasks waiting on it: they wait for the new
    run."""
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    await docket.add(step, when=later, key="p")("old")
    await docket.add(step, key="f", after="p")("f")
    await docket.replace(step, datetime.now(timezone.utc), "p")("new")
    await run(docket)
    assert log == ["new", "f"]


async def test_a_retried_parent_ends_only_after_its_last_attempt(docket: Docket):
    """A parent retried by Retry releases its follower after its last attempt,
    not when an attempt fails."""
    await docket.add(flaky, key="flaky")("p")
    await docket.add(step, key="f", after="flaky")("f")
    await run(docket)
    assert log == ["p#1", "p#2", "p#3", "f"]


async def test_add_many_takes_gated_calls(docket: Docket):
    """Calls built with docket.call(after=...) are gated like adds; one naming an
    unknown parent fails alone."""
    calls = [
        docket.call(step, key="m1")("m1"),
        docket.call(step, key="m2")("m2"),
        docket.call(step, key="join", after=["m1", "m2"])("join"),
        docket.call(step, key="lost", after="missing")("lost"),
    ]
    executions = await docket.add_many(calls)
    assert executions[2].state is ExecutionState.WAITING
    assert isinstance(executions[3].schedule_exception, UnknownParent)
    await run(docket)
    assert log[-1] == "join" and "lost" not in log


async def test_a_follower_for_later_runs_at_its_own_time(docket: Docket):
    """A follower added with a future when= is released into the queue and runs
    at its time, not before."""
    await docket.add(step, key="p")("p")
    when = datetime.now(timezone.utc) + timedelta(milliseconds=300)
    await docket.add(step, when=when, key="f", after="p")("f")
    await run(docket)
    assert log == ["p", "f"]
    execution = await docket.get_execution("f")
    assert isinstance(execution, Execution) and execution.started_at is not None
    assert execution.started_at >= when


async def test_fire_and_forget_parents_are_kept_while_followers_wait(
    docket_url: str, docket_name: str
):
    """With execution_ttl=0 a parent's record is still kept while a follower holds
    it (so the follower can read it), and goes once the follower has run."""
    async with Docket(
        name=docket_name, url=docket_url, execution_ttl=timedelta(0)
    ) as docket:
        docket.register(step)
        log.clear()
        await docket.add(step, key="p")("p")
        await docket.add(step, key="f", after="p")("f")
        async with Worker(docket, **FAST) as worker:
            await worker.run_until_finished()
        assert log == ["p", "f"]
        assert await docket.get_execution("p") is None
        async with docket.redis() as redis:
            assert await redis.keys(f"{docket.keyspace.prefix}:gate:*") == []


async def test_get_execution_and_snapshot_show_waiting_tasks(docket: Docket):
    """get_execution gives a waiting task as WAITING with the parents it still waits
    for; a snapshot counts and lists waiting tasks apart from the queued ones."""
    await docket.add(step, key="b")("b")
    await run(docket)
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    await docket.add(step, when=later, key="a")("a")
    await docket.add(step, key="c", after=["a", "b"])("c")
    waiting = await docket.get_execution("c")
    assert waiting is not None and waiting.state is ExecutionState.WAITING
    assert waiting.waiting_on == ["a"]
    snapshot = await docket.snapshot()
    assert snapshot.total_tasks == 1
    assert snapshot.waiting_tasks == 1
    assert [(e.key, e.state) for e in snapshot.waiting] == [
        ("c", ExecutionState.WAITING)
    ]
    await docket.cancel("c")
    assert (await docket.snapshot()).waiting_tasks == 0


async def test_a_perpetual_parent_releases_its_follower_when_its_chain_stops(
    docket: Docket,
):
    """A Perpetual parent schedules its next run under its key, which keeps the
    followers waiting: they run once the chain stops."""
    docket.register(ticking)
    await docket.add(ticking, key="tick")()
    await docket.add(step, key="after-tick", after="tick")("after")
    await run(docket)
    assert log == ["tick", "tick", "tick", "after"]


async def ticking(
    perpetual: Perpetual = Perpetual(every=timedelta(milliseconds=10)),
) -> None:
    log.append("tick")
    if log.count("tick") >= 3:
        perpetual.cancel()


async def test_clear_withdraws_waiting_tasks(docket: Docket):
    """clear() withdraws waiting tasks with the rest (counted, CANCELLED), even
    those that would run after a cancelled parent, and leaves no gate behind."""
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    await docket.add(step, when=later, key="p")("p")
    await docket.add(step, key="f", after="p", on_parent_failure="run")("f")
    assert await docket.clear() == 2
    assert await state(docket, "f") is ExecutionState.CANCELLED
    assert (await docket.snapshot()).waiting_tasks == 0
    async with docket.redis() as redis:
        assert await redis.keys(f"{docket.keyspace.prefix}:waiters:*") == []


async def test_a_parent_named_twice_counts_once(docket: Docket):
    """A TaskCall built by hand with a parent named twice waits for it once."""
    later = datetime.now(timezone.utc) + timedelta(milliseconds=50)
    await docket.add(step, when=later, key="twice")("p")
    call = docket.call(step, key="once")("f")
    gated = dataclasses.replace(call, after=("twice", "twice"))
    (execution,) = await docket.add_many([gated])
    assert execution.state is ExecutionState.WAITING
    await run(docket)
    assert log == ["p", "f"]
