"""Pausing and resuming a task type through a real Docket and Worker, on both
backends: the paused type's work waits (queued or scheduled) and runs once after
the resume; nothing is lost or run twice, other types keep running."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import pytest

from docket import Docket, ExecutionState, Worker
from tests._support.timings import FAST
from tests.conftest import eventually

RAN: Counter[str] = Counter()


async def export(label: str) -> None:
    """The task type the tests pause."""
    RAN[label] += 1


async def notify(label: str) -> None:
    """Another task type, never paused."""
    RAN[f"notify:{label}"] += 1


@pytest.fixture(autouse=True)
def fresh_log() -> None:
    RAN.clear()


@pytest.fixture
async def running(docket: Docket) -> AsyncIterator[Worker]:
    """A worker running for ever in the background (stopped at the end)."""
    docket.register(export)
    docket.register(notify)
    async with Worker(docket, **FAST) as worker:
        task = asyncio.ensure_future(worker.run_forever())
        try:
            yield worker
        finally:
            worker.stop()
            await asyncio.wait_for(task, 10)


async def state_of(docket: Docket, key: str) -> ExecutionState | None:
    execution = await docket.get_execution(key)
    return None if execution is None else execution.state


@pytest.mark.cluster_ok
async def test_paused_work_waits_and_runs_once_after_resume(
    docket: Docket, running: Worker
):
    """While `export` is paused its queued and scheduled tasks wait (state
    scheduled, listed by pauses()), `notify` runs; resume releases them and each
    runs exactly once."""
    await docket.pause(export)
    assert await docket.paused() == frozenset({"export"})
    await eventually(lambda: "export" in running_paused(running))
    soon = datetime.now(timezone.utc) + timedelta(milliseconds=200)
    for i in range(5):
        await docket.add(export, key=f"now-{i}")(f"now-{i}")
    await docket.add(export, when=soon, key="soon")("soon")
    await docket.add(notify, key="n-1")("n-1")

    await eventually(lambda: RAN["notify:n-1"] == 1)

    async def all_held() -> bool:
        pauses = await docket.pauses()
        return len(pauses) == 1 and pauses[0].waiting == 6

    await eventually(all_held)
    pause = (await docket.pauses())[0]
    assert pause.task == "export" and pause.since is not None
    assert await state_of(docket, "now-0") is ExecutionState.SCHEDULED
    assert not any(label.startswith(("now", "soon")) for label in RAN)

    assert await docket.resume("export") == 6
    assert await docket.paused() == frozenset()
    await eventually(lambda: len(RAN) == 7)
    await asyncio.sleep(0.2)  # a second run would show up by now
    assert set(RAN.values()) == {1}
    assert await state_of(docket, "now-0") is ExecutionState.COMPLETED
    assert await docket.pauses() == []


async def test_a_task_already_running_finishes_when_its_type_is_paused(
    docket: Docket, running: Worker
):
    """Pausing does not interrupt a running task; the next one waits."""
    gate = asyncio.Event()
    started = asyncio.Event()

    async def slow(label: str) -> None:
        started.set()
        await gate.wait()
        RAN[label] += 1

    docket.register(slow)
    first = await docket.add(slow, key="first")("first")
    await asyncio.wait_for(started.wait(), 5)
    await docket.pause(slow)
    await eventually(lambda: "slow" in running_paused(running))
    await docket.add(slow, key="second")("second")
    gate.set()
    await eventually(lambda: RAN["first"] == 1)
    await first.sync()
    assert first.state is ExecutionState.COMPLETED
    await eventually(lambda: state_is(docket, "second", ExecutionState.SCHEDULED))
    assert RAN["second"] == 0
    await docket.resume(slow)
    await eventually(lambda: RAN["second"] == 1)


def running_paused(worker: Worker) -> frozenset[str]:
    """The paused types as the worker's session last read them."""
    return worker._pulse.paused  # pyright: ignore[reportPrivateUsage]


async def state_is(docket: Docket, key: str, state: ExecutionState) -> bool:
    return await state_of(docket, key) is state


async def test_cancel_and_replace_of_held_work(docket: Docket, running: Worker):
    """A held task that is cancelled never runs; one that is replaced runs once,
    with the replacement's arguments, after the resume."""
    await docket.pause(export)
    await eventually(lambda: "export" in running_paused(running))
    await docket.add(export, key="cancel-me")("cancelled")
    await docket.add(export, key="replace-me")("old")
    await eventually(lambda: held(docket, 2))
    await docket.cancel("cancel-me")
    await docket.replace(export, datetime.now(timezone.utc), "replace-me")("new")
    await eventually(lambda: state_is(docket, "replace-me", ExecutionState.SCHEDULED))
    await docket.resume(export)
    await eventually(lambda: RAN["new"] == 1)
    await asyncio.sleep(0.2)  # a stale copy would run by now
    assert dict(RAN) == {"new": 1}
    assert await state_of(docket, "cancel-me") is ExecutionState.CANCELLED


async def held(docket: Docket, count: int) -> bool:
    pauses = await docket.pauses()
    return bool(pauses) and pauses[0].waiting == count


async def test_a_worker_started_while_paused_holds_the_work(docket: Docket):
    """A worker that starts after the pause never runs the paused type; a run
    until finished ends with the held work still waiting, and runs it once
    resumed."""
    docket.register(export)
    await docket.pause("export")
    await docket.add(export, key="early")("early")
    async with Worker(docket, minimum_check_interval=timedelta(milliseconds=5)) as w:
        await asyncio.wait_for(w.run_until_finished(), 10)
        assert RAN == Counter()
        assert await held(docket, 1)
        snapshot = await docket.snapshot()
        assert [e.key for e in snapshot.future] == ["early"]
        assert await docket.resume(export) == 1
        await asyncio.wait_for(w.run_until_finished(), 10)
    assert dict(RAN) == {"early": 1}


async def test_clear_withdraws_held_work(docket: Docket, running: Worker):
    """clear() counts and withdraws the held tasks too; the pause stays."""
    await docket.pause(export)
    await eventually(lambda: "export" in running_paused(running))
    for i in range(3):
        await docket.add(export, key=f"c-{i}")(f"c-{i}")
    await eventually(lambda: held(docket, 3))
    assert await docket.clear() == 3
    assert await state_of(docket, "c-0") is ExecutionState.CANCELLED
    assert await docket.paused() == frozenset({"export"})
    assert await docket.resume(export) == 0
    await asyncio.sleep(0.2)  # nothing comes back
    assert RAN == Counter()


async def test_a_resume_left_unfinished_is_finished_by_a_worker(
    docket: Docket, running: Worker
):
    """A resume whose caller went away after it began (the mark says "r:") is
    carried on by the workers: the held work runs."""
    await docket.pause(export)
    await eventually(lambda: "export" in running_paused(running))
    for i in range(3):
        await docket.add(export, key=f"u-{i}")(f"u-{i}")
    await eventually(lambda: held(docket, 3))
    async with docket.redis() as client:  # what a resume's first step leaves
        await client.hset(docket.keyspace.paused, "export", "r:2024-01-01T00:00:00")
    await eventually(lambda: len(RAN) == 3, timeout=10)
    assert set(RAN.values()) == {1}
    assert await docket.paused() == frozenset()


async def test_pausing_twice_keeps_the_first_time_and_bad_names_are_refused(
    docket: Docket,
):
    """A second pause keeps the original time; an empty name is a ValueError, a
    value that names no task a TypeError; resuming what is not paused is 0."""
    await docket.pause("export")
    first = (await docket.pauses())[0].since
    await docket.pause(export)
    assert (await docket.pauses())[0].since == first
    with pytest.raises(ValueError, match="empty"):
        await docket.pause("")
    with pytest.raises(TypeError, match="task function or a task name"):
        await docket.pause(42)  # type: ignore[arg-type]
    assert await docket.resume("notify") == 0


async def test_held_work_of_a_signed_docket_still_verifies(docket_url: str):
    """With signing keys, a task held by a pause and released by the resume
    verifies and runs; its result reads back."""
    keys = ["pause-test-signing-key-0123456789"]
    async with Docket(name="paused-signed", url=docket_url, signing_keys=keys) as d:

        async def doubled(value: int) -> int:
            return value * 2

        d.register(doubled)
        await d.pause(doubled)
        execution = await d.add(doubled, key="signed")(21)
        async with Worker(d, minimum_check_interval=timedelta(milliseconds=5)) as w:
            await asyncio.wait_for(w.run_until_finished(), 10)
            assert await held(d, 1)
            assert await d.resume(doubled) == 1
            await asyncio.wait_for(w.run_until_finished(), 10)
        assert await execution.get_result() == 42
