"""Progress reported from inside a task, observed through the public API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import timedelta
from typing import Any

import pytest

from docket import (
    CurrentExecution,
    Docket,
    Execution,
    ExecutionState,
    Progress,
    Worker,
)
from docket.execution import ExecutionProgress
from tests._support.timings import FAST
from tests.conftest import eventually


async def next_event(events: AsyncGenerator[Any], kind: str) -> dict[str, Any]:
    """The next event of type ``kind`` from a subscription."""
    while True:
        event = await asyncio.wait_for(events.__anext__(), 5)
        if event["type"] == kind:
            return event


def values(event: dict[str, Any]) -> tuple[Any, Any, Any]:
    return event["current"], event["total"], event["message"]


async def test_progress_updates_are_published_to_subscribers(
    docket: Docket, worker: Worker
):
    """set_total, set_message and increment each publish a progress event, in order."""
    release = asyncio.Event()

    async def report(progress: Progress = Progress()) -> None:
        await progress.set_total(10)
        await progress.set_message("starting")
        await progress.increment(3)
        await progress.increment()
        await release.wait()

    execution = await docket.add(report, key="reporting")()
    events = execution.subscribe()
    try:
        initial = await next_event(events, "progress")  # the snapshot, before the run
        assert values(initial) == (None, 100, None)
        run = asyncio.ensure_future(worker.run_until_finished())
        seen = [await next_event(events, "progress") for _ in range(4)]
        assert [values(e) for e in seen] == [
            (0, 10, None),
            (0, 10, "starting"),
            (3, 10, "starting"),
            (4, 10, "starting"),
        ]
        assert all(e["key"] == "reporting" and e["updated_at"] for e in seen)
        release.set()
        completed = await next_event(events, "state")
        while completed["state"] is not ExecutionState.COMPLETED:
            completed = await next_event(events, "state")
        await asyncio.wait_for(run, 5)
    finally:
        release.set()
        await events.aclose()


async def test_progress_is_readable_with_sync_while_the_task_waits(
    docket: Docket, worker: Worker
):
    """execution.progress.sync() shows the task's current, total and message mid-run."""
    reached, release = asyncio.Event(), asyncio.Event()

    async def halfway(progress: Progress = Progress()) -> None:
        await progress.set_total(4)
        await progress.increment(2)
        await progress.set_message("halfway")
        reached.set()
        await release.wait()

    execution = await docket.add(halfway, key="halfway")()
    run = asyncio.ensure_future(worker.run_until_finished())
    try:
        await asyncio.wait_for(reached.wait(), 5)
        await execution.progress.sync()
        assert execution.progress.current == 2
        assert execution.progress.total == 4
        assert execution.progress.message == "halfway"
        assert execution.progress.updated_at is not None
        elsewhere = await ExecutionProgress.create(docket, "halfway")
        assert (elsewhere.current, elsewhere.total) == (2, 4)
    finally:
        release.set()
        await asyncio.wait_for(run, 5)


async def test_progress_inside_the_task_starts_unknown_of_one_hundred(
    docket: Docket, worker: Worker
):
    """A claimed task sees current=None, total=100 and no message before reporting:
    what a sync() of the same execution shows (no progress hash is written at
    claim)."""
    seen: list[tuple[Any, ...]] = []

    async def look(progress: Progress = Progress()) -> None:
        seen.append((progress.current, progress.total, progress.message))
        await progress.increment(5)
        seen.append((progress.current, progress.total, progress.message))

    await docket.add(look)()
    await worker.run_until_finished()
    assert seen == [(None, 100, None), (5, 100, None)]


async def test_set_message_none_clears_the_message(docket: Docket, worker: Worker):
    """set_message(None) removes the stored message."""
    reached, release = asyncio.Event(), asyncio.Event()

    async def chatty(progress: Progress = Progress()) -> None:
        await progress.set_message("loud")
        await progress.set_message(None)
        reached.set()
        await release.wait()

    execution = await docket.add(chatty, key="chatty")()
    run = asyncio.ensure_future(worker.run_until_finished())
    try:
        await asyncio.wait_for(reached.wait(), 5)
        await execution.progress.sync()
        assert execution.progress.message is None
        assert execution.progress.updated_at is not None
    finally:
        release.set()
        await asyncio.wait_for(run, 5)


async def test_concurrent_increments_are_never_lost(docket: Docket, worker: Worker):
    """Many increments racing inside one task all count."""
    reached, release = asyncio.Event(), asyncio.Event()

    async def fan_out(progress: Progress = Progress()) -> None:
        await asyncio.gather(*(progress.increment() for _ in range(12)))
        await asyncio.gather(*(progress.increment(2) for _ in range(6)))
        reached.set()
        await release.wait()

    execution = await docket.add(fan_out, key="fan-out")()
    run = asyncio.ensure_future(worker.run_until_finished())
    try:
        await asyncio.wait_for(reached.wait(), 5)
        await execution.progress.sync()
        assert execution.progress.current == 24
    finally:
        release.set()
        await asyncio.wait_for(run, 5)


async def test_increments_from_several_reporters_add_up(docket: Docket, worker: Worker):
    """The task and an outside reporter incrementing the same key lose nothing."""
    reached, release = asyncio.Event(), asyncio.Event()

    async def shared(progress: Progress = Progress()) -> None:
        await progress.set_total(30)
        reached.set()
        await asyncio.gather(*(progress.increment() for _ in range(10)))
        await release.wait()

    execution = await docket.add(shared, key="shared")()
    run = asyncio.ensure_future(worker.run_until_finished())
    try:
        await asyncio.wait_for(reached.wait(), 5)
        outside = ExecutionProgress(docket, "shared")
        await asyncio.gather(*(outside.increment() for _ in range(10)))

        async def all_counted() -> bool:
            await execution.progress.sync()
            return execution.progress.current == 20

        await eventually(all_counted)
    finally:
        release.set()
        await asyncio.wait_for(run, 5)


async def test_set_total_does_not_overwrite_other_increments(
    docket: Docket, worker: Worker
):
    """A later set_total keeps the increments another reporter made meanwhile."""
    first, second, release = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def grows(progress: Progress = Progress()) -> None:
        await progress.set_total(10)
        first.set()
        await second.wait()
        await progress.set_total(20)
        await release.wait()

    execution = await docket.add(grows, key="grows")()
    run = asyncio.ensure_future(worker.run_until_finished())
    try:
        await asyncio.wait_for(first.wait(), 5)
        await ExecutionProgress(docket, "grows").increment(4)
        second.set()

        async def total_grew() -> bool:
            await execution.progress.sync()
            return execution.progress.total == 20

        await eventually(total_grew)
        assert execution.progress.current == 4
    finally:
        second.set()
        release.set()
        await asyncio.wait_for(run, 5)


async def test_invalid_total_and_amount_raise_value_error(
    docket: Docket, worker: Worker
):
    """set_total(0) and increment(0) (or negative) raise ValueError and change nothing."""
    errors: list[str] = []
    after: list[tuple[Any, ...]] = []

    async def invalid(progress: Progress = Progress()) -> None:
        for attempt in (
            lambda: progress.set_total(0),
            lambda: progress.set_total(-5),
            lambda: progress.increment(0),
            lambda: progress.increment(-1),
        ):
            try:
                await attempt()
            except ValueError as error:
                errors.append(str(error))
        after.append((progress.current, progress.total))

    execution = await docket.add(invalid)()
    await worker.run_until_finished()
    assert await execution.get_result() is None
    assert errors == [
        "Total must be at least 1",
        "Total must be at least 1",
        "Amount must be at least 1",
        "Amount must be at least 1",
    ]
    assert after == [(None, 100)]


async def test_progress_reads_none_after_completion(docket: Docket, worker: Worker):
    """Once the task finishes its progress is gone: current=None, total=100."""

    async def finishes(progress: Progress = Progress()) -> None:
        await progress.set_total(3)
        await progress.increment(3)
        await progress.set_message("done")

    execution = await docket.add(finishes, key="finishes")()
    await worker.run_until_finished()
    await execution.progress.sync()
    assert execution.progress.current is None
    assert execution.progress.total == 100
    assert execution.progress.message is None
    assert execution.progress.updated_at is None
    assert await docket.broker.events.progress_record("finishes") == {}


async def test_progress_of_a_failed_task_is_gone_too(docket: Docket, worker: Worker):
    """A failing task's progress hash is deleted with its terminal state."""

    async def fails(progress: Progress = Progress()) -> None:
        await progress.increment()
        raise RuntimeError("no")

    execution = await docket.add(fails, key="fails")()
    await worker.run_until_finished()
    await execution.progress.sync()
    assert execution.progress.current is None
    assert await docket.broker.events.progress_record("fails") == {}


async def test_progress_subscribe_yields_only_progress_events(
    docket: Docket, worker: Worker
):
    """execution.progress.subscribe() yields progress events as plain dicts, no states."""

    async def two_steps(progress: Progress = Progress()) -> None:
        await progress.set_total(2)
        await progress.increment()
        await progress.increment()

    execution = await docket.add(two_steps, key="two-steps")()
    ready = asyncio.Event()
    events = execution.progress.subscribe(ready=ready)
    try:
        first = asyncio.ensure_future(events.__anext__())
        await asyncio.wait_for(ready.wait(), 5)
        await worker.run_until_finished()
        received = [await asyncio.wait_for(first, 5)]
        received += [await asyncio.wait_for(events.__anext__(), 5) for _ in range(2)]
        assert all(type(e) is dict and e["type"] == "progress" for e in received)
        assert [(e["current"], e["total"]) for e in received] == [
            (0, 2),
            (1, 2),
            (2, 2),
        ]
    finally:
        await events.aclose()


async def test_progress_works_in_fire_and_forget_mode(
    docket_url: str, docket_name: str
):
    """With execution_ttl=0 progress is still tracked while the task runs (Appendix A.8)."""
    reached, release = asyncio.Event(), asyncio.Event()

    async def quiet(progress: Progress = Progress()) -> None:
        await progress.increment(7)
        reached.set()
        await release.wait()

    async with Docket(
        name=f"{docket_name}-ttl0", url=docket_url, execution_ttl=timedelta(0)
    ) as ttl0:
        execution = await ttl0.add(quiet, key="quiet")()
        async with Worker(ttl0, **FAST) as worker:
            run = asyncio.ensure_future(worker.run_until_finished())
            try:
                await asyncio.wait_for(reached.wait(), 5)
                await execution.progress.sync()
                assert execution.progress.current == 7
            finally:
                release.set()
                await asyncio.wait_for(run, 5)
        await execution.progress.sync()
        assert execution.progress.current is None


async def test_current_execution_progress_is_the_same_object(
    docket: Docket, worker: Worker
):
    """Progress() and CurrentExecution().progress report into the same place."""
    seen: list[Any] = []

    async def both(
        progress: Progress = Progress(), execution: Execution = CurrentExecution()
    ) -> None:
        await progress.increment(2)
        seen.append(execution.progress.current)

    await docket.add(both)()
    await worker.run_until_finished()
    assert seen == [2]


async def test_progress_outside_a_worker_fails_an_assertion():
    """A Progress that no worker bound cannot report."""
    with pytest.raises(AssertionError):
        await Progress().increment()
