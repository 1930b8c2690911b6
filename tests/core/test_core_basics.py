"""The basic life of a task through the public API, on memory:// and real Redis."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from docket import Disposition, Docket, ExecutionState, Worker
from tests.conftest import eventually


async def greet(name: str) -> str:
    return f"hello {name}"


async def boom() -> None:
    raise ValueError("nope")


@pytest.mark.cluster_ok
async def test_immediate_task_runs_and_returns_result(docket: Docket, worker: Worker):
    """A task added for now runs on the worker and its return value comes back."""
    execution = await docket.add(greet)("Jane")
    assert execution.disposition is Disposition.SCHEDULED
    assert execution.state is ExecutionState.QUEUED
    await worker.run_until_finished()
    assert await execution.get_result(timeout=timedelta(seconds=5)) == "hello Jane"
    await execution.sync()
    assert execution.state is ExecutionState.COMPLETED
    assert execution.worker == worker.name


@pytest.mark.cluster_ok
async def test_failed_task_reraises_original_exception(docket: Docket, worker: Worker):
    """get_result re-raises the exception the task raised, with its type."""
    execution = await docket.add(boom)()
    await worker.run_until_finished()
    with pytest.raises(ValueError, match="nope"):
        await execution.get_result()
    assert execution.state is ExecutionState.FAILED
    assert execution.error == "ValueError: nope"


@pytest.mark.cluster_ok
async def test_future_task_waits_for_its_time(docket: Docket, worker: Worker):
    """A task scheduled in the future is SCHEDULED, then runs once due."""
    when = datetime.now(timezone.utc) + timedelta(milliseconds=200)
    execution = await docket.add(greet, when=when)("later")
    assert execution.state is ExecutionState.SCHEDULED
    await worker.run_until_finished()
    assert await execution.get_result() == "hello later"
    assert execution.started_at is not None and execution.started_at >= when


@pytest.mark.cluster_ok
async def test_same_key_is_idempotent(docket: Docket, worker: Worker):
    """A second add with a live key is ALREADY_SCHEDULED and only the first runs."""
    first = await docket.add(greet, key="only-once")("a")
    second = await docket.add(greet, key="only-once")("b")
    assert first.disposition is Disposition.SCHEDULED
    assert second.disposition is Disposition.ALREADY_SCHEDULED
    await worker.run_until_finished()
    assert await first.get_result() == "hello a"


async def test_aliases_schedule_by_name_and_are_advertised(
    docket: Docket, worker: Worker
):
    """A task registered under aliases can be added by alias, and workers advertise them."""
    docket.register(greet, names=["hello", "bonjour"])
    execution = await docket.add("bonjour")("Marie")
    assert execution.function_name == "bonjour"
    await worker.run_until_finished()
    assert await execution.get_result() == "hello Marie"
    run = asyncio.ensure_future(worker.run_forever())
    try:
        infos = await eventually(lambda: docket.task_workers("bonjour"))
        assert {"hello", "bonjour"} <= next(iter(infos)).tasks
    finally:
        run.cancel()
        await run


async def test_adding_an_unknown_name_raises_at_once(docket: Docket):
    """add() by a name nobody registered raises KeyError before anything is awaited."""
    with pytest.raises(KeyError):
        docket.add("no-such-task")


class Greeter:
    async def greet(self, name: str) -> None: ...


async def test_a_bound_method_is_registered_once(docket: Docket):
    """Adding ``obj.method`` again (a new but equal bound method each time) neither
    checks nor registers it again: the first registration stays. Another object's
    method is a different task and replaces it."""
    greeter = Greeter()
    await docket.add(greeter.greet)("a")
    registered = docket.tasks["greet"]
    for name in ("b", "c"):
        await docket.add(greeter.greet)(name)
        assert docket.tasks["greet"] is registered
    await docket.add(Greeter().greet)("d")
    assert docket.tasks["greet"] is not registered
    assert docket.tasks["greet"] != registered
