"""Progress and Execution.subscribe() through a real worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import timedelta
from typing import Any

import pytest

from docket import Docket, Execution, ExecutionState, Progress, Worker


async def collect_until_done(
    execution: Execution, ready: asyncio.Event, into: list[dict[str, Any]]
) -> None:
    """Record every event of ``execution`` until its terminal state arrives."""
    events: AsyncGenerator[Any] = execution.subscribe(ready=ready)
    async for event in events:
        into.append(dict(event))
        if event["type"] == "state" and event["state"] in (
            ExecutionState.COMPLETED,
            ExecutionState.FAILED,
        ):
            break
    await events.aclose()


async def test_subscribe_yields_state_and_progress_events(
    docket: Docket, worker: Worker
):
    """A subscriber sees running, each progress update, and completed, in order."""
    go = asyncio.Event()

    async def import_rows(rows: int, progress: Progress = Progress()) -> int:
        await asyncio.wait_for(go.wait(), 10)
        await progress.set_total(rows)
        for row in range(rows):
            await progress.increment()
            await progress.set_message(f"row {row + 1}")
        return rows

    execution = await docket.add(import_rows, key="import")(3)
    ready, events = asyncio.Event(), []
    watcher = asyncio.ensure_future(collect_until_done(execution, ready, events))
    await asyncio.wait_for(ready.wait(), 5)
    run = asyncio.ensure_future(worker.run_until_finished())
    go.set()
    await asyncio.wait_for(watcher, 10)
    await asyncio.wait_for(run, 10)

    states = [e["state"] for e in events if e["type"] == "state"]
    assert states == [
        ExecutionState.QUEUED,
        ExecutionState.RUNNING,
        ExecutionState.COMPLETED,
    ]
    progress = [
        (e["current"], e["total"], e["message"])
        for e in events[2:]
        if e["type"] == "progress"
    ]
    assert progress == [
        (0, 3, None),
        (1, 3, None),
        (1, 3, "row 1"),
        (2, 3, "row 1"),
        (2, 3, "row 2"),
        (3, 3, "row 2"),
        (3, 3, "row 3"),
    ]
    assert all(e["key"] == "import" for e in events)
    assert events[1]["type"] == "progress"  # the synthetic current progress
    assert await execution.get_result() == 3


async def test_progress_is_readable_while_running_and_gone_after(
    docket: Docket, worker: Worker
):
    """sync() shows live progress during the run; afterwards current is None again."""
    reported, finish = asyncio.Event(), asyncio.Event()

    async def halfway(progress: Progress = Progress()) -> None:
        await progress.set_total(10)
        await progress.increment(5)
        await progress.set_message("halfway")
        assert (progress.current, progress.total, progress.message) == (
            5,
            10,
            "halfway",
        )
        reported.set()
        await asyncio.wait_for(finish.wait(), 10)

    execution = await docket.add(halfway)()
    run = asyncio.ensure_future(worker.run_until_finished())
    await asyncio.wait_for(reported.wait(), 5)
    await execution.sync()
    assert execution.state is ExecutionState.RUNNING
    p = execution.progress
    assert (p.current, p.total, p.message) == (5, 10, "halfway")
    assert p.updated_at is not None
    finish.set()
    await asyncio.wait_for(run, 10)
    await execution.sync()
    assert (p.current, p.total, p.message, p.updated_at) == (None, 100, None, None)
    async with docket.redis() as client:
        assert await client.keys(f"{docket.prefix}:progress:*") == []


async def test_concurrent_increments_are_never_lost(docket: Docket, worker: Worker):
    """Fifty increments racing inside one task all count."""
    seen: list[int | None] = []

    async def racing(progress: Progress = Progress()) -> None:
        await asyncio.gather(*(progress.increment() for _ in range(50)))
        await progress.set_message("done")
        seen.append(progress.current)

    await docket.add(racing)()
    await asyncio.wait_for(worker.run_until_finished(), 10)
    assert seen == [50]


async def test_total_stays_100_without_set_total(docket: Docket, worker: Worker):
    """A task that only increments reports against the default total of 100."""
    totals: list[int] = []

    async def counting(progress: Progress = Progress()) -> None:
        await progress.increment(7)
        totals.append(progress.total)

    await docket.add(counting)()
    await asyncio.wait_for(worker.run_until_finished(), 10)
    assert totals == [100]


async def test_bad_progress_values_fail_the_task_clearly(
    docket: Docket, worker: Worker
):
    """set_total(0) and increment(0) raise ValueError with the spec's messages."""
    errors: list[str] = []

    async def careless(progress: Progress = Progress()) -> None:
        for attempt in (lambda: progress.set_total(0), lambda: progress.increment(0)):
            try:
                await attempt()
            except ValueError as error:
                errors.append(str(error))

    await docket.add(careless)()
    await asyncio.wait_for(worker.run_until_finished(), 10)
    assert errors == ["Total must be at least 1", "Amount must be at least 1"]


def test_progress_outside_a_worker_fails_an_assertion() -> None:
    """An unbound Progress (the declaration itself) refuses to be used."""
    with pytest.raises(AssertionError, match="only available inside a task"):
        _ = Progress().current


async def test_events_of_one_docket_never_reach_another(
    docket_url: str, docket_name: str
):
    """Two dockets on one server, same task key: each subscriber hears only its own."""
    go = asyncio.Event()

    async def report(progress: Progress = Progress()) -> None:
        await asyncio.wait_for(go.wait(), 10)
        await progress.set_message("hello")

    async with (
        Docket(name=f"{docket_name}-a", url=docket_url) as a,
        Docket(name=f"{docket_name}-b", url=docket_url) as b,
    ):
        mine = await a.add(report, key="shared-key")()
        ready, events = asyncio.Event(), []
        watcher = asyncio.ensure_future(collect_until_done(mine, ready, events))
        await asyncio.wait_for(ready.wait(), 5)
        go.set()
        await b.add(report, key="shared-key")()
        async with Worker(b, minimum_check_interval=timedelta(milliseconds=5)) as wb:
            await asyncio.wait_for(wb.run_until_finished(), 10)  # b's events first
        async with Worker(a, minimum_check_interval=timedelta(milliseconds=5)) as wa:
            await asyncio.wait_for(wa.run_until_finished(), 10)
        await asyncio.wait_for(watcher, 10)
    states = [e["state"] for e in events if e["type"] == "state"]
    assert states == [
        ExecutionState.QUEUED,
        ExecutionState.RUNNING,
        ExecutionState.COMPLETED,
    ]
    messages = [e["message"] for e in events[2:] if e["type"] == "progress"]
    assert messages == ["hello"]  # one event: a's own, none of b's


async def test_progress_subscribe_yields_only_progress(docket: Docket, worker: Worker):
    """ExecutionProgress.subscribe() yields the progress channel's events as dicts."""
    go = asyncio.Event()

    async def steps(progress: Progress = Progress()) -> None:
        await asyncio.wait_for(go.wait(), 10)
        await progress.set_total(2)
        await progress.increment(2)

    execution = await docket.add(steps)()
    ready, received = asyncio.Event(), []

    async def listen() -> None:
        async for event in execution.progress.subscribe(ready=ready):
            received.append(event)
            if event["current"] == 2:
                return

    listener = asyncio.ensure_future(listen())
    await asyncio.wait_for(ready.wait(), 5)
    go.set()
    await asyncio.wait_for(worker.run_until_finished(), 10)
    await asyncio.wait_for(listener, 10)
    assert [(e["type"], e["current"], e["total"]) for e in received] == [
        ("progress", 0, 2),
        ("progress", 2, 2),
    ]
