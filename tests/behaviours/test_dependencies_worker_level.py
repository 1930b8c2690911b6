"""Worker-level dependencies as pydocket code uses them: handlers for tasks that
declare none, ``validate_task_dependencies``, ``message_batch`` and the automatic
perpetual re-seeding interval."""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import timedelta
from types import ModuleType
from typing import Annotated, Any

import pytest
from uncalled_for import FailedDependency

from docket import (
    ConcurrencyLimit,
    CurrentExecution,
    Depends,
    Docket,
    Execution,
    Perpetual,
    Retry,
    Timeout,
    Worker,
)
from docket import worker as worker_module
from docket.dependencies import Runtime
from tests._support.timings import FAST
from tests.conftest import eventually


@pytest.mark.parametrize(
    "dependencies", [[Retry(attempts=3)], {"retry": Retry(attempts=3)}]
)
async def test_a_worker_retry_applies_to_tasks_without_dependencies(
    docket: Docket, dependencies: Any
):
    """``Worker(dependencies=[Retry(attempts=3)])`` (list or mapping form) retries a
    task that declares no dependency at all: it runs three times, then fails."""
    attempts: list[int] = []

    async def fragile() -> None:
        attempts.append(len(attempts) + 1)
        raise RuntimeError("always")

    execution = await docket.add(fragile)()
    async with Worker(docket, dependencies=dependencies, **FAST) as worker:
        await asyncio.wait_for(worker.run_until_finished(), 10)
    assert attempts == [1, 2, 3]
    with pytest.raises(RuntimeError, match="always"):
        await execution.get_result()


async def test_a_worker_timeout_applies_to_tasks_without_dependencies(
    docket: Docket,
):
    """A worker-level Timeout stops a plain task that runs too long."""

    async def slow() -> None:
        await asyncio.sleep(10)

    execution = await docket.add(slow)()
    async with Worker(
        docket, dependencies=[Timeout(timedelta(milliseconds=50))], **FAST
    ) as worker:
        await asyncio.wait_for(worker.run_until_finished(), 5)
    with pytest.raises(asyncio.TimeoutError):
        await execution.get_result()


async def test_validate_task_dependencies_reports_single_rule_conflicts(
    docket: Docket,
):
    """The public check returns ``{}`` without worker dependencies, else one
    FailedDependency per conflict, keyed ``__conflict_<Type>__``; cached per task."""

    class OtherRuntime(Runtime["OtherRuntime"]):
        async def __aenter__(self) -> OtherRuntime:
            return self

        async def run(self, execution: Any, function: Any, a: Any, k: Any) -> Any:
            return await function(*a, **k)

    async def task(customer: Annotated[int, ConcurrencyLimit(1)]) -> None: ...

    limits: dict[str, Any] = {"customer": [ConcurrencyLimit(2)]}
    plain = Worker(docket)
    assert (
        plain.validate_task_dependencies(task, {"x": Timeout(timedelta(1))}, {}) == {}
    )

    worker = Worker(docket, dependencies={"limit": ConcurrencyLimit(3)})
    arguments: dict[str, Any] = {
        "__worker_dep__limit": ConcurrencyLimit(3),
        "t": Timeout(timedelta(seconds=1)),
        "r": OtherRuntime(),
    }
    conflicts = worker.validate_task_dependencies(task, arguments, limits)
    assert set(conflicts) == {"__conflict_ConcurrencyLimit__", "__conflict_Runtime__"}
    assert all(isinstance(f, FailedDependency) for f in conflicts.values())
    assert str(conflicts["__conflict_ConcurrencyLimit__"].error) == (
        "Only one ConcurrencyLimit dependency is allowed, but found at: "
        "'__worker_dep__limit', 'customer'. Declare it in exactly one place "
        "(task or worker)."
    )
    assert str(conflicts["__conflict_Runtime__"].error) == (
        "Only one Runtime dependency is allowed, but found: 't' (Timeout), "
        "'r' (OtherRuntime). Declare it in exactly one place (task or worker)."
    )
    assert worker.validate_task_dependencies(task, {}, {}) == conflicts  # cached


async def test_message_batch_caps_each_read(docket: Docket):
    """``message_batch`` is validated and caps how many messages one read takes."""
    with pytest.raises(ValueError, match="message_batch must be at least 1, got 0"):
        Worker(docket, message_batch=0)
    started: list[int] = []
    gate = asyncio.Event()

    async def held(n: int) -> None:
        started.append(n)
        await asyncio.wait_for(gate.wait(), 10)

    for n in range(6):
        await docket.add(held)(n)
    async with Worker(docket, concurrency=10, message_batch=2, **FAST) as worker:
        assert worker.message_batch == 2
        run = asyncio.ensure_future(worker.run_until_finished())
        await eventually(lambda: len(started) == 6)
        gate.set()
        await asyncio.wait_for(run, 10)
    assert sorted(started) == list(range(6))


async def test_automatic_perpetual_tasks_are_reseeded_while_running(
    docket: Docket, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    """A running worker adds back an automatic perpetual task whose chain was cut
    (cancelled), and resumes one that was struck once it is restored, on the
    interval of ``docket.worker.AUTOMATIC_PERPETUAL_RESEED_INTERVAL_SECONDS``."""
    assert worker_module.AUTOMATIC_PERPETUAL_RESEED_INTERVAL_SECONDS == 60
    monkeypatch.setattr(
        worker_module, "AUTOMATIC_PERPETUAL_RESEED_INTERVAL_SECONDS", 0.05
    )
    runs: list[str] = []

    async def heartbeat(
        execution: Execution = CurrentExecution(),
        perpetual: Perpetual = Perpetual(every=timedelta(hours=1), automatic=True),
    ) -> None:
        runs.append(execution.key)

    async def next_run_waits(count: int) -> bool:
        record = await docket.broker.runs.record("heartbeat")
        return len(runs) == count and record is not None and record.state == "scheduled"

    docket.register(heartbeat)
    async with Worker(docket, **FAST) as worker:
        run = asyncio.ensure_future(worker.run_forever())
        try:
            await eventually(lambda: next_run_waits(1))  # seeded at start
            await docket.cancel("heartbeat")  # the next run (in an hour) is gone
            await eventually(lambda: next_run_waits(2))  # seeded again, ran at once
            await docket.strike(heartbeat)
            await docket.cancel("heartbeat")
            refused = "'heartbeat' is stricken, skipping schedule"
            await eventually(lambda: caplog.text.count(refused) >= 3)  # re-tried
            assert len(runs) == 2
            await docket.restore(heartbeat)
            await eventually(lambda: len(runs) == 3)
        finally:
            worker.stop()
            await asyncio.wait_for(run, 10)
    assert runs == ["heartbeat"] * 3


async def test_a_severed_automatic_perpetual_is_seeded_again(
    docket: Docket, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    """A chain severed from outside (its next run's queue entry and parked data
    deleted, the record still saying "scheduled") is seeded again by a running
    worker and runs; the record then holds a fresh generation."""
    caplog.set_level("INFO", logger="docket.worker")
    monkeypatch.setattr(
        worker_module, "AUTOMATIC_PERPETUAL_RESEED_INTERVAL_SECONDS", 0.05
    )
    runs: list[str] = []

    async def sower(
        execution: Execution = CurrentExecution(),
        perpetual: Perpetual = Perpetual(every=timedelta(hours=1), automatic=True),
    ) -> None:
        runs.append(execution.key)

    async def next_run_waits(count: int) -> bool:
        record = await docket.broker.runs.record("sower")
        return len(runs) == count and record is not None and record.state == "scheduled"

    docket.register(sower)
    async with Worker(docket, **FAST) as worker:
        run = asyncio.ensure_future(worker.run_forever())
        try:
            await eventually(lambda: next_run_waits(1))
            before = await docket.broker.runs.record("sower")
            async with docket.redis() as client:
                await client.zrem(docket.queue_key, "sower")
                await client.delete(docket.parked_task_key("sower"))
            await eventually(lambda: next_run_waits(2))
        finally:
            worker.stop()
            await asyncio.wait_for(run, 10)
    after = await docket.broker.runs.record("sower")
    assert before is not None and after is not None
    assert after.generation > before.generation
    assert "Seeded sower again" in caplog.text
    assert runs == ["sower"] * 2


async def test_a_held_automatic_perpetual_is_not_seeded_twice(
    docket: Docket, monkeypatch: pytest.MonkeyPatch
):
    """A perpetual's run held for its paused task type says "scheduled" without a
    queue entry, yet is not severed: the re-seeds leave it alone, and after the
    resume it runs once."""
    from docket._worker import scheduler

    monkeypatch.setattr(
        worker_module, "AUTOMATIC_PERPETUAL_RESEED_INTERVAL_SECONDS", 0.05
    )
    seeds: list[str] = []
    real = scheduler._seed_severed  # pyright: ignore[reportPrivateUsage]

    async def counted(*args: Any) -> None:
        seeds.append(args[-1])
        await real(*args)

    monkeypatch.setattr(scheduler, "_seed_severed", counted)
    runs: list[str] = []

    async def held(
        execution: Execution = CurrentExecution(),
        perpetual: Perpetual = Perpetual(every=timedelta(hours=1), automatic=True),
    ) -> None:
        runs.append(execution.key)

    async def parked_for_the_pause() -> bool:
        record = await docket.broker.runs.record("held")
        async with docket.redis() as client:
            paused = await client.hget(docket.runs_key("held"), "paused")
        return record is not None and record.state == "scheduled" and bool(paused)

    docket.register(held)
    await docket.pause(held)
    async with Worker(docket, **FAST) as worker:
        run = asyncio.ensure_future(worker.run_forever())
        try:
            await eventually(parked_for_the_pause)
            await eventually(lambda: len(seeds) >= 3)  # re-seeds saw it held
            assert runs == []
            await docket.resume(held)
            await eventually(lambda: len(runs) == 1)
            seen = len(seeds)
            await eventually(lambda: len(seeds) >= seen + 3)  # and the chain after
        finally:
            worker.stop()
            await asyncio.wait_for(run, 10)
    assert runs == ["held"]


async def test_sequence_dependencies_get_pydocket_internal_names(docket: Docket):
    """A list of worker dependencies is named ``__worker_dep_<index>__`` (as in
    pydocket) and runs in order, before the task."""
    events: list[str] = []

    async def first() -> None:
        events.append("first")

    async def second() -> None:
        events.append("second")

    async def the_task() -> None:
        events.append("task")

    docket.register(the_task)
    async with Worker(
        docket,
        dependencies=[Depends(first), Depends(second)],
        **FAST,
    ) as worker:
        assert list(worker.dependencies) == ["__worker_dep_0__", "__worker_dep_1__"]
        await docket.add(the_task)()
        await worker.run_until_finished()
    assert events == ["first", "second", "task"]


@pytest.mark.parametrize("by_path", [False, True])
async def test_worker_run_refuses_a_bare_function_as_a_dependency(
    monkeypatch: pytest.MonkeyPatch, by_path: bool
):
    """A plain function among the dependencies (given directly or by dotted path)
    is a TypeError saying it must be a Dependency instance, before anything runs."""

    def dependency() -> None: ...

    module = ModuleType("bare_dependencies_fixture")
    module.dependencies = [dependency]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    with pytest.raises(TypeError, match="must be a Dependency instance"):
        await Worker.run(
            url=f"memory://{uuid.uuid4()}",
            tasks=[],
            dependencies=f"{module.__name__}:dependencies" if by_path else [dependency],
            schedule_automatic_tasks=False,
            until_finished=True,
        )


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("no_such_module_for_docket:dependencies", ModuleNotFoundError),
        ("docket.tasks:no_such_dependencies", AttributeError),
    ],
)
async def test_worker_run_import_errors_name_what_is_missing(
    path: str, error: type[Exception]
):
    """A dependency path whose module is missing raises ModuleNotFoundError, one
    whose attribute is missing AttributeError (as in pydocket), naming it."""
    with pytest.raises(error, match="no_such"):
        await Worker.run(url=f"memory://{uuid.uuid4()}", dependencies=path)
