"""Keys of ours that someone overwrote with another type.

Anyone who can write to Redis can put a string where a run record or a parked task
should be. Such a key fails only its own task: the worker goes on, every other task
in the same batch runs and settles, and the task whose key went bad ends in
``P:dead`` with a reason that says which key, never silently dropped.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

import pytest

from docket import Docket, ExecutionState, Worker
from docket.dependencies import CurrentDocket, TaskKey

ran: list[str] = []


async def good(label: str) -> None:
    ran.append(label)


async def overwrite(docket: Docket, redis_key: str) -> None:
    """Put a string where a hash of ours should be (as someone else could)."""
    async with docket.redis() as client:
        await client.delete(redis_key)
        await client.set(redis_key, "not a hash")


async def add_all(docket: Docket, *labels: str, when: datetime | None = None) -> None:
    """One ``good`` task per label, under that label as its key."""
    docket.register(good)
    for label in labels:
        await docket.add(good, when=when, key=label)(label)


async def spoils_its_record(
    docket: Docket = CurrentDocket(), key: str = TaskKey()
) -> None:
    """Overwrites its own run record while it runs."""
    await overwrite(docket, docket.runs_key(key))
    ran.append(key)


async def finish(worker: Worker) -> None:
    """Run until finished, failing the test (not hanging it) if the worker stalls."""
    await asyncio.wait_for(worker.run_until_finished(), 30)


async def test_a_run_record_that_is_not_a_hash_is_dead_lettered_at_claim(
    docket: Docket, worker: Worker
):
    """A queued task whose run record became a string is dead-lettered when a
    worker claims it (bad-run-record, naming the key); the tasks read with it in
    the same batch run, and the worker finishes."""
    ran.clear()
    await add_all(docket, "a", "b", "spoiled", "c", "d")
    await overwrite(docket, docket.runs_key("spoiled"))
    await finish(worker)
    assert sorted(ran) == ["a", "b", "c", "d"]
    (letter,) = await docket.dead_letters.list()
    assert letter.reason == "bad-run-record"
    assert docket.runs_key("spoiled") in letter.detail
    assert letter.fields[b"key"] == b"spoiled"
    async with docket.redis() as client:
        assert await client.xlen(docket.stream_key) == 0
        assert await client.get(docket.runs_key("spoiled")) == b"not a hash"


async def test_a_run_record_spoiled_while_its_task_runs_never_stalls_the_batch(
    docket: Docket, worker: Worker
):
    """A record overwritten while its task runs cannot take the outcome: the
    message is still acknowledged, every other settlement of the batch lands,
    and the worker finishes."""
    ran.clear()
    docket.register(good)
    docket.register(spoils_its_record)
    executions = [await docket.add(good, key=f"g{i}")(f"g{i}") for i in range(4)]
    await docket.add(spoils_its_record, key="spoiler")()
    executions += [await docket.add(good, key=f"h{i}")(f"h{i}") for i in range(4)]
    await finish(worker)
    assert sorted(ran) == sorted([e.key for e in executions] + ["spoiler"])
    for execution in executions:
        await execution.sync()
        assert execution.state is ExecutionState.COMPLETED
    async with docket.redis() as client:
        assert await client.xlen(docket.stream_key) == 0
        assert await client.get(docket.runs_key("spoiler")) == b"not a hash"


async def test_a_parked_task_that_is_not_a_hash_is_dead_lettered_when_due(
    docket: Docket, worker: Worker, caplog: pytest.LogCaptureFixture
):
    """A future task whose parked copy became a string cannot be moved when it is
    due: its key goes to P:dead (bad-parked-task) and its record ends FAILED (the
    key can be added again); the tasks due with it still run."""
    ran.clear()
    caplog.set_level(logging.ERROR, logger="docket.worker")
    soon = datetime.now(timezone.utc) + timedelta(milliseconds=100)
    await add_all(docket, "x", "lost", "y", when=soon)
    await overwrite(docket, docket.parked_task_key("lost"))
    await finish(worker)
    assert sorted(ran) == ["x", "y"]
    (letter,) = await docket.dead_letters.list()
    assert letter.reason == "bad-parked-task"
    assert docket.parked_task_key("lost") in letter.detail
    assert letter.fields[b"key"] == b"lost"
    assert "bad-parked-task" in caplog.text
    lost = await docket.get_execution("lost")
    assert lost is not None and lost.state is ExecutionState.FAILED
    again = await docket.add(good, key="lost")("lost")
    await finish(worker)
    await again.sync()
    assert again.state is ExecutionState.COMPLETED


async def test_a_scheduled_task_whose_record_went_bad_still_moves_and_is_caught(
    docket: Docket, worker: Worker
):
    """A future task whose run record became a string still moves into the stream
    when due (the record is left alone), and the claim then dead-letters it; the
    scheduler and the worker go on."""
    ran.clear()
    soon = datetime.now(timezone.utc) + timedelta(milliseconds=100)
    await add_all(docket, "p", "bent", "q", when=soon)
    await overwrite(docket, docket.runs_key("bent"))
    await finish(worker)
    assert sorted(ran) == ["p", "q"]
    (letter,) = await docket.dead_letters.list()
    assert letter.reason == "bad-run-record"
    assert letter.fields[b"key"] == b"bent"


async def test_the_dead_letter_limit_holds_for_bad_keys(
    docket_url: str, docket_name: str
):
    """Messages a worker's claim dead-letters count against the docket's
    dead_letter_limit like any other: with a limit of 1, only the newest stays."""
    ran.clear()
    async with Docket(name=docket_name, url=docket_url, dead_letter_limit=1) as docket:
        await add_all(docket, "first", "second", "fine")
        for label in ("first", "second"):
            await overwrite(docket, docket.runs_key(label))
        async with Worker(docket) as worker:
            await finish(worker)
        assert ran == ["fine"]
        (letter,) = await docket.dead_letters.list()
        assert letter.reason == "bad-run-record"
        assert letter.fields[b"key"] == b"second"
