"""Execution through the public API: states, results, events, look-ups and add errors."""

from __future__ import annotations

import asyncio
import pickle
import threading
import time
from collections.abc import AsyncGenerator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from docket import (
    Docket,
    Execution,
    ExecutionCancelled,
    ExecutionState,
    Retry,
    Worker,
)
from docket.execution import TERMINAL
from tests._support.timings import FAST
from tests.conftest import eventually


async def greet(name: str, punctuation: str = "!") -> str:
    return f"hello {name}{punctuation}"


async def boom() -> None:
    raise ValueError("boom")


def soon(milliseconds: int = 20) -> datetime:
    return datetime.now(timezone.utc) + timedelta(milliseconds=milliseconds)


def much_later() -> datetime:
    return datetime.now(timezone.utc) + timedelta(hours=1)


async def docket_keys(docket: Docket) -> set[bytes]:
    async with docket.redis() as client:
        return set(await client.keys(f"{docket.prefix}:*"))


async def next_state(events: AsyncGenerator[Any]) -> dict[str, Any]:
    """The next state event of a subscription (progress events are skipped)."""
    while True:
        event = await asyncio.wait_for(events.__anext__(), 5)
        if event["type"] == "state":
            return event


# ---- sync() -----------------------------------------------------------------------


async def test_sync_reports_scheduled_for_a_future_task(docket: Docket):
    """A task added for later syncs as SCHEDULED."""
    execution = await docket.add(greet, when=much_later(), key="later")("a")
    execution.state = ExecutionState.RUNNING  # prove that sync() reads the record
    await execution.sync()
    assert execution.state is ExecutionState.SCHEDULED
    assert execution.worker is None and execution.completed_at is None


async def test_sync_reports_queued_for_an_immediate_task(docket: Docket):
    """A task added for now syncs as QUEUED before any worker claims it."""
    execution = await docket.add(greet, key="now")("a")
    execution.state = ExecutionState.SCHEDULED
    await execution.sync()
    assert execution.state is ExecutionState.QUEUED


async def test_sync_reports_running_with_worker_and_start(
    docket: Docket, worker: Worker
):
    """While its task runs, an execution syncs as RUNNING on that worker."""
    started, release = asyncio.Event(), asyncio.Event()

    async def held() -> None:
        started.set()
        await release.wait()

    execution = await docket.add(held, key="held")()
    run = asyncio.ensure_future(worker.run_until_finished())
    try:
        await asyncio.wait_for(started.wait(), 5)
        await execution.sync()
        assert execution.state is ExecutionState.RUNNING
        assert execution.worker == worker.name
        assert execution.started_at is not None
        assert execution.completed_at is None
    finally:
        release.set()
        await asyncio.wait_for(run, 5)


async def test_sync_reports_completed_with_result_key(docket: Docket, worker: Worker):
    """After a successful run, sync shows COMPLETED with completion time and result key."""
    execution = await docket.add(greet, key="done")("Ada")
    await worker.run_until_finished()
    fresh = await docket.get_execution("done")
    assert fresh is not None
    assert fresh.state is ExecutionState.COMPLETED
    assert fresh.completed_at is not None and fresh.started_at is not None
    assert fresh.completed_at >= fresh.started_at
    assert fresh.result_key == "done:1"  # K:<generation>, as pydocket 0.27 stores it
    assert fresh.error is None
    assert await execution.get_result() == "hello Ada!"


async def test_sync_reports_failed_with_its_error(docket: Docket, worker: Worker):
    """After a failing run, sync shows FAILED with the error text."""
    execution = await docket.add(boom, key="broken")()
    await worker.run_until_finished()
    await execution.sync()
    assert execution.state is ExecutionState.FAILED
    assert execution.error == "ValueError: boom"
    with pytest.raises(ValueError, match="boom"):
        await execution.get_result()


async def test_sync_reports_cancelled(docket: Docket):
    """A cancelled future task syncs as CANCELLED with a completion time."""
    execution = await docket.add(greet, when=much_later(), key="gone")("a")
    await docket.cancel("gone")
    await execution.sync()
    assert execution.state is ExecutionState.CANCELLED
    assert execution.completed_at is not None


async def test_sync_of_an_unknown_key_reports_scheduled(docket: Docket):
    """With no record at all, sync falls back to SCHEDULED and clears the fields."""
    execution = await docket.add(greet, key="temp")("a")
    await docket.cancel("temp")
    async with docket.redis() as client:
        await client.delete(docket.runs_key("temp"))
    await execution.sync()
    assert execution.state is ExecutionState.SCHEDULED
    assert execution.completed_at is None


# ---- get_result() --------------------------------------------------------------------


async def test_get_result_times_out_quickly_when_nothing_runs(docket: Docket):
    """get_result(timeout=) raises TimeoutError at the timeout when no worker runs."""
    execution = await docket.add(greet, key="stuck")("a")
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="stuck"):
        await execution.get_result(timeout=timedelta(milliseconds=50))
    assert time.monotonic() - started < 1


async def test_get_result_with_a_past_deadline_raises_at_once(docket: Docket):
    """A deadline already in the past raises TimeoutError without waiting."""
    execution = await docket.add(greet, key="stuck")("a")
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await execution.get_result(
            deadline=datetime.now(timezone.utc) - timedelta(seconds=1)
        )
    assert time.monotonic() - started < 0.5


async def test_get_result_rejects_timeout_and_deadline_together(docket: Docket):
    """Passing both timeout and deadline raises ValueError."""
    execution = await docket.add(greet, key="both")("a")
    with pytest.raises(ValueError, match="both"):
        await execution.get_result(timeout=timedelta(seconds=1), deadline=much_later())


async def test_get_result_of_a_finished_task_returns_at_once(
    docket: Docket, worker: Worker
):
    """get_result on an already finished execution returns without a deadline."""
    await docket.add(greet, key="finished")("Bo")
    await worker.run_until_finished()
    execution = await docket.get_execution("finished")
    assert execution is not None
    assert await asyncio.wait_for(execution.get_result(), 2) == "hello Bo!"


async def test_waiting_get_result_waits_for_the_worker(docket: Docket, worker: Worker):
    """A waiter started before the worker receives the result once it finishes."""
    execution = await docket.add(greet, key="awaited")("Cy")
    waiter = asyncio.ensure_future(execution.get_result(timeout=timedelta(seconds=5)))
    await worker.run_until_finished()
    assert await asyncio.wait_for(waiter, 5) == "hello Cy!"


async def test_cancel_before_start_releases_a_waiting_get_result(docket: Docket):
    """Cancelling a not-yet-started task makes a waiting get_result raise promptly."""
    execution = await docket.add(greet, when=much_later(), key="doomed")("a")
    waiter = asyncio.ensure_future(execution.get_result(timeout=timedelta(seconds=30)))
    async with docket.redis() as client:
        # the waiter has begun to subscribe once it raised the listening flag
        await eventually(lambda: client.exists(docket.key("listening")))
    started = time.monotonic()
    await docket.cancel("doomed")
    with pytest.raises(ExecutionCancelled):
        await asyncio.wait_for(waiter, 5)
    assert time.monotonic() - started < 2


async def test_cancel_before_start_publishes_a_cancelled_event(docket: Docket):
    """A subscriber of a not-yet-started task hears its cancellation."""
    execution = await docket.add(greet, when=much_later(), key="doomed")("a")
    events = execution.subscribe()
    try:
        assert (await next_state(events))["state"] is ExecutionState.SCHEDULED
        await docket.cancel("doomed")
        assert (await next_state(events))["state"] is ExecutionState.CANCELLED
    finally:
        await events.aclose()


async def test_get_result_waiter_gets_an_error_with_control_characters(
    docket: Docket, worker: Worker
):
    """A waiter re-raises a failure whose message holds ANSI colour codes."""

    async def colourful() -> None:
        raise RuntimeError("\x1b[31mred\x1b[0m")

    execution = await docket.add(colourful, key="colourful")()
    events = execution.subscribe()
    try:
        await next_state(events)  # subscribed before the task fails
        await worker.run_until_finished()
        assert (await next_state(events))["state"] is ExecutionState.RUNNING
        failed = await next_state(events)
        assert failed["error"] == "RuntimeError: \x1b[31mred\x1b[0m"
    finally:
        await events.aclose()
    with pytest.raises(RuntimeError, match="red"):
        await execution.get_result()


# ---- subscribe() ------------------------------------------------------------------------


async def test_subscribe_yields_the_current_state_then_events_in_order(
    docket: Docket, worker: Worker
):
    """subscribe() starts with the current state and progress, then running, completed."""
    execution = await docket.add(greet, key="watched")("Di")
    events = execution.subscribe()
    try:
        first = await asyncio.wait_for(events.__anext__(), 5)
        assert first["type"] == "state"
        assert first["key"] == "watched"
        assert first["state"] is ExecutionState.QUEUED
        second = await asyncio.wait_for(events.__anext__(), 5)
        assert second["type"] == "progress"
        assert second["current"] is None

        run = asyncio.ensure_future(worker.run_until_finished())
        running = await next_state(events)
        assert running["state"] is ExecutionState.RUNNING
        assert running["worker"] == worker.name
        completed = await next_state(events)
        assert completed["state"] is ExecutionState.COMPLETED
        assert completed["completed_at"]
        await asyncio.wait_for(run, 5)
    finally:
        await events.aclose()


async def test_subscribe_to_a_finished_task_yields_its_final_state(
    docket: Docket, worker: Worker
):
    """The first event of a subscription to a failed task already says FAILED."""
    execution = await docket.add(boom, key="failed-already")()
    await worker.run_until_finished()
    events = execution.subscribe()
    try:
        first = await asyncio.wait_for(events.__anext__(), 5)
        assert first["state"] is ExecutionState.FAILED
        assert first["error"] == "ValueError: boom"
    finally:
        await events.aclose()


async def test_snapshot_shows_a_running_execution(docket: Docket, worker: Worker):
    """While a task runs, snapshot() lists it as running on its worker."""
    started, release = asyncio.Event(), asyncio.Event()

    async def held() -> None:
        started.set()
        await release.wait()

    await docket.add(held, key="held")()
    run = asyncio.ensure_future(worker.run_until_finished())
    try:
        await asyncio.wait_for(started.wait(), 5)
        snapshot = await docket.snapshot()
        assert [(e.key, e.worker) for e in snapshot.running] == [("held", worker.name)]
        assert snapshot.future == []
    finally:
        release.set()
        await asyncio.wait_for(run, 5)


# ---- get_execution() ---------------------------------------------------------------------


async def test_get_execution_round_trips_the_call(docket: Docket):
    """get_execution rebuilds function, args, kwargs, key and when from the record."""
    when = much_later()
    await docket.add(greet, when=when, key="claim-check")("Eve", punctuation="?")
    execution = await docket.get_execution("claim-check")
    assert isinstance(execution, Execution)
    assert execution.function is greet
    assert execution.function_name == "greet"
    assert execution.args == ("Eve",)
    assert execution.kwargs == {"punctuation": "?"}
    assert execution.key == "claim-check"
    assert abs((execution.when - when).total_seconds()) < 0.001
    assert execution.state is ExecutionState.SCHEDULED


async def test_get_execution_of_an_unknown_key_is_none(docket: Docket):
    """Unknown keys, and cancel tombstones of unknown keys, give None."""
    assert await docket.get_execution("never-seen") is None
    await docket.cancel("tombstone")
    assert await docket.get_execution("tombstone") is None


async def test_get_execution_of_an_unregistered_function_uses_a_placeholder(
    docket: Docket,
):
    """A record naming a function this process lacks still loads, by name."""
    await docket.add(greet, when=much_later(), key="foreign")("Fay")
    del docket.tasks["greet"]
    execution = await docket.get_execution("foreign")
    assert execution is not None
    assert execution.function_name == "greet"
    assert execution.function is not greet
    assert execution.args == ("Fay",)


# ---- replace -----------------------------------------------------------------------------------


async def test_replace_changes_args_and_time_of_a_future_task(
    docket: Docket, worker: Worker
):
    """replace() of a future task swaps its arguments and time; only the new one runs."""
    seen: list[str] = []

    async def remember(value: str) -> None:
        seen.append(value)

    await docket.add(remember, when=much_later(), key="swap")("old")
    new_when = soon()
    replaced = await docket.replace(remember, when=new_when, key="swap")("new")
    assert replaced.state is ExecutionState.SCHEDULED
    loaded = await docket.get_execution("swap")
    assert loaded is not None
    assert loaded.args == ("new",)
    assert abs((loaded.when - new_when).total_seconds()) < 0.001
    snapshot = await docket.snapshot()
    assert [e.key for e in snapshot.future] == ["swap"]
    await worker.run_until_finished()
    assert seen == ["new"]


async def test_replace_while_running_survives_a_retry_of_the_old_run(
    docket: Docket, worker: Worker
):
    """A run replaced while running that then fails with Retry does not undo the replace."""
    seen: list[tuple[str, int]] = []
    release = asyncio.Event()

    async def job(label: str, retry: Retry = Retry(attempts=2)) -> str:
        seen.append((label, retry.attempt))
        if label == "old":
            await release.wait()
            raise RuntimeError("old run fails")
        return label

    await docket.add(job, key="job")("old")
    run = asyncio.ensure_future(worker.run_until_finished())
    try:
        await eventually(lambda: seen)
        successor = await docket.replace(job, when=soon(), key="job")("new")
    finally:
        release.set()
    await asyncio.wait_for(run, 5)
    assert seen == [("old", 1), ("new", 1)]
    assert await successor.get_result(timeout=timedelta(seconds=2)) == "new"


# ---- add() errors -----------------------------------------------------------------------------


async def test_naive_datetimes_raise_type_error(docket: Docket):
    """add() and replace() refuse naive datetimes before anything is written."""
    before = await docket_keys(docket)
    naive = datetime.now() + timedelta(hours=1)
    with pytest.raises(TypeError):
        await docket.add(greet, when=naive, key="naive")("a")
    with pytest.raises(TypeError):
        await docket.replace(greet, when=naive, key="naive")("a")
    assert await docket_keys(docket) == before


async def test_unpicklable_arguments_raise_and_write_nothing(docket: Docket):
    """An argument cloudpickle cannot serialise fails the awaited add; nothing is stored."""
    before = await docket_keys(docket)
    with pytest.raises((TypeError, pickle.PicklingError)):
        await docket.add(greet, key="locked")(threading.Lock())
    assert await docket_keys(docket) == before
    assert await docket.broker.runs.record("locked") is None
    assert await docket.get_execution("locked") is None


# ---- execution_ttl=0 ------------------------------------------------------------------------------


async def test_fire_and_forget_leaves_no_run_record(docket_url: str, docket_name: str):
    """With execution_ttl=0 the record lives only until the task finishes."""
    async with Docket(
        name=f"{docket_name}-ttl0", url=docket_url, execution_ttl=timedelta(0)
    ) as ttl0:
        execution = await ttl0.add(greet, key="fleeting")("Gus")
        fleeting = await ttl0.broker.runs.record("fleeting")
        assert fleeting is not None and fleeting.state == "queued"
        subscribed = asyncio.Event()

        async def final_state() -> Any:
            async for event in execution.subscribe(ready=subscribed):
                if event["type"] == "state" and event["state"] in TERMINAL:
                    return event["state"]

        waiter = asyncio.ensure_future(final_state())
        await asyncio.wait_for(subscribed.wait(), 5)  # before the task can end
        async with Worker(ttl0, **FAST) as worker:
            await worker.run_until_finished()
        assert await asyncio.wait_for(waiter, 5) is ExecutionState.COMPLETED
        assert await ttl0.broker.runs.record("fleeting") is None
        assert await ttl0.get_execution("fleeting") is None
        async with ttl0.redis() as client:
            assert await client.keys(f"{ttl0.prefix}:runs:*") == []
            assert await client.keys(f"{ttl0.prefix}:progress:*") == []


async def test_a_refused_claim_of_an_execution_built_from_fields_alone(docket: Docket):
    """An execution built from a message's fields without its stream id, whose key
    was replaced since, is refused by claim() (False, no script error), and the
    replacement's message stays in the stream."""
    await docket.add(greet, key="refused")("Ada")
    async with docket.redis() as client:
        ((_, fields),) = await client.xrange(docket.stream_key, count=1)
    stale = await Execution.from_message(docket, fields)
    assert stale.message_id is None
    await docket.replace(greet, datetime.now(timezone.utc), "refused")("Grace")
    assert await stale.claim("worker-1") is False
    async with docket.redis() as client:
        assert await client.xlen(docket.stream_key) == 1
    current = await docket.get_execution("refused")
    assert current is not None and current.args == ("Grace",)
