"""A key replaced while its run runs: the replacement wins everywhere.

The old run's result, its retry, its Perpetual successor or stop, and its ending
event all give way to the replacement; a run record that is gone altogether (an
eviction, a fire-and-forget replacement that already finished) lets the old run's
retry or successor go on, as in pydocket.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from docket import (
    CurrentDocket,
    CurrentExecution,
    Docket,
    Execution,
    ExecutionState,
    Perpetual,
    Retry,
    Worker,
)
from docket import instrumentation as m
from tests._support.timings import FAST

runs: list[str] = []


def soon(ms: int = 150) -> datetime:
    return datetime.now(timezone.utc) + timedelta(milliseconds=ms)


async def slow_then_old(label: str, docket: Docket = CurrentDocket()) -> str:
    runs.append(label)
    if label == "old":
        await docket.replace(slow_then_old, datetime.now(timezone.utc), "reused")("new")
        while runs.count("new") == 0:  # finish after the replacement
            await asyncio.sleep(0.01)
    return label


async def test_a_replaced_run_that_finishes_last_keeps_its_successors_result(
    docket: Docket,
):
    """Each run's result is stored under ``K:<generation>``: the replaced run,
    finishing after its replacement, leaves the replacement's result in place."""
    runs.clear()
    docket.register(slow_then_old)
    await docket.add(slow_then_old, key="reused")("old")
    async with Worker(docket, concurrency=2, **FAST) as worker:
        await worker.run_until_finished()
    execution = await docket.get_execution("reused")
    assert execution is not None
    assert execution.result_key == "reused:2"
    assert await execution.get_result() == "new"


class Supersessions:
    def __init__(self) -> None:
        self.where: list[str] = []

    def add(self, amount: int, attributes: dict[str, str] | None = None) -> None:
        self.where.append((attributes or {}).get("docket.where", ""))


async def flaky(
    label: str,
    retry: Retry = Retry(attempts=2),
    docket: Docket = CurrentDocket(),
    execution: Execution = CurrentExecution(),
) -> None:
    runs.append(f"{label}#{execution.attempt}")
    if label == "first":
        if execution.attempt == 1:
            await docket.replace(flaky, soon(), "flaky")("replacement")
        raise ValueError("the first run fails")


async def test_a_retry_gives_way_to_a_replacement_and_says_so(
    docket: Docket, monkeypatch: pytest.MonkeyPatch
):
    """A failed run whose key was replaced while it ran schedules no retry over the
    replacement; docket_tasks_superseded counts it with ``docket.where=retry``."""
    runs.clear()
    counter = Supersessions()
    monkeypatch.setattr(m, "TASKS_SUPERSEDED", counter)
    docket.register(flaky)
    await docket.add(flaky, key="flaky")("first")
    async with Worker(docket, **FAST) as worker:
        await worker.run_until_finished()
    assert runs == ["first#1", "replacement#1"]
    assert counter.where == ["retry"]


async def stopping(
    label: str,
    perpetual: Perpetual = Perpetual(every=timedelta(hours=1)),
    docket: Docket = CurrentDocket(),
) -> None:
    runs.append(label)
    if label == "first":
        await docket.replace(stopping, soon(), "stopping")("replacement")
    perpetual.cancel()


async def test_a_perpetual_that_stops_itself_keeps_a_replacement(
    docket: Docket, monkeypatch: pytest.MonkeyPatch
):
    """A Perpetual that cancels itself after its key was replaced leaves the
    replacement scheduled (and counts the supersession, ``where=on_complete``)."""
    runs.clear()
    counter = Supersessions()
    monkeypatch.setattr(m, "TASKS_SUPERSEDED", counter)
    docket.register(stopping)
    await docket.add(stopping, key="stopping")("first")
    async with Worker(docket, **FAST) as worker:
        await worker.run_until_finished()
    assert runs == ["first", "replacement"]
    assert counter.where == ["on_complete"]


async def giving_way(
    label: str,
    perpetual: Perpetual = Perpetual(every=timedelta(hours=1)),
    docket: Docket = CurrentDocket(),
) -> None:
    runs.append(label)
    if label == "replacement":
        perpetual.cancel()
        return
    await docket.replace(giving_way, soon(), "giving-way")("replacement")
    raise ValueError("the first run fails")


async def test_a_waiter_sees_the_replacements_ending_not_the_replaced_runs(
    docket: Docket,
):
    """The replaced run ends without a state event, so a caller waiting on the key
    gets the replacement's outcome."""
    runs.clear()
    docket.register(giving_way)
    execution = await docket.add(giving_way, key="giving-way")("first")
    subscribed = asyncio.Event()

    async def runs_at_first_ending() -> list[str]:
        async for event in execution.subscribe(ready=subscribed):
            if event["type"] == "state" and event["state"] in (
                ExecutionState.COMPLETED,
                ExecutionState.FAILED,
                ExecutionState.CANCELLED,
            ):
                return list(runs)
        raise AssertionError("the events ended")

    ending = asyncio.ensure_future(runs_at_first_ending())
    await asyncio.wait_for(subscribed.wait(), 10)
    async with Worker(docket, **FAST) as worker:
        await asyncio.wait_for(worker.run_until_finished(), 30)
    assert await asyncio.wait_for(ending, 10) == ["first", "replacement"]


async def evicted(
    perpetual: Perpetual = Perpetual(every=timedelta(milliseconds=10)),
    docket: Docket = CurrentDocket(),
) -> None:
    runs.append("ran")
    if len(runs) == 1:
        async with docket.redis() as client:
            await client.delete(docket.runs_key("evicted"))
    else:
        perpetual.cancel()


async def test_a_perpetual_goes_on_when_its_run_record_disappears(docket: Docket):
    """A run record deleted while its Perpetual runs (an eviction) does not count
    as a replacement: the successor is still scheduled."""
    runs.clear()
    docket.register(evicted)
    await docket.add(evicted, key="evicted")()
    async with Worker(docket, **FAST) as worker:
        await asyncio.wait_for(worker.run_until_finished(), 10)
    assert runs == ["ran", "ran"]


async def test_a_retry_goes_on_after_a_fire_and_forget_replacement_finished(
    docket_url: str, docket_name: str
):
    """With execution_ttl=0 a replacement that finished first leaves no record;
    the failed run's retry then goes on, as in pydocket."""
    runs.clear()
    async with Docket(
        name=f"{docket_name}-ttl0", url=docket_url, execution_ttl=timedelta(0)
    ) as docket:

        async def gone() -> bool:
            return await docket.get_execution("flaky") is None

        async def flaky_zero(
            label: str,
            retry: Retry = Retry(attempts=2),
            execution: Execution = CurrentExecution(),
        ) -> Any:
            runs.append(f"{label}#{execution.attempt}")
            if label == "first":
                if execution.attempt == 1:
                    now = datetime.now(timezone.utc)
                    await docket.replace(flaky_zero, now, "flaky")("replacement")
                    while not await gone():
                        await asyncio.sleep(0.01)
                raise ValueError("the first run fails")

        docket.register(flaky_zero)
        await docket.add(flaky_zero, key="flaky")("first")
        async with Worker(docket, concurrency=2, **FAST) as worker:
            await asyncio.wait_for(worker.run_until_finished(), 30)
    assert runs == ["first#1", "replacement#1", "first#2"]


async def last_run(perpetual: Perpetual = Perpetual()) -> str:
    perpetual.cancel()
    return "the last result"


async def test_a_perpetual_that_stops_itself_still_returns_its_result(docket: Docket):
    """A Perpetual that cancels its chain ends COMPLETED with its result: a waiter
    gets the result, not ExecutionCancelled."""
    docket.register(last_run)
    execution = await docket.add(last_run)()
    waiter = asyncio.ensure_future(execution.get_result(timeout=timedelta(seconds=10)))
    async with Worker(docket, **FAST) as worker:
        await worker.run_until_finished()
    assert await waiter == "the last result"
    await execution.sync()
    assert execution.state is ExecutionState.COMPLETED
