"""``Suspend.until``: a durable sleep in the middle of a task. The attempt ends
(neither a failure nor a retry), the key waits SCHEDULED without a slot, and the
task runs again from the top at the time; steps marked before are skipped."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from docket import (
    Checkpoint,
    Docket,
    ExecutionState,
    Perpetual,
    Retry,
    Suspend,
    Timeout,
    Worker,
)
from tests._support.timings import FAST
from tests._support.waits import checkpoint_kept, run, run_until, state
from tests.behaviours.test_keyspace_ttl import assert_every_key_expires
from tests.conftest import eventually

log: list[str] = []


def soon(seconds: float = 0.3) -> datetime:
    return datetime.now(timezone.utc) + timedelta(seconds=seconds)


async def onboarding(
    user: str,
    suspend: Suspend = Suspend(),
    steps: Checkpoint = Checkpoint(),
    retry: Retry = Retry(attempts=2),
) -> str:
    if not await steps.done("welcome"):
        log.append(f"welcome {user}#{retry.attempt}")
        await steps.mark("welcome")
    log.append("before sleep")
    await suspend.until(soon())
    log.append(f"after sleep#{retry.attempt}")
    return f"activated {user}"


@pytest.fixture(autouse=True)
def _tasks(docket: Docket) -> None:
    log.clear()
    docket.register(onboarding)


@pytest.mark.cluster_ok
async def test_the_task_runs_again_after_the_time_without_repeating_steps(
    docket: Docket,
):
    """The step marked before the sleep runs once; the body runs again from the
    top after the time, the sleep then returns at once, and the task completes
    with its result on the same attempt number (a suspension is not a retry)."""
    execution = await docket.add(onboarding, key="user-1")("ada")
    await run(docket)
    assert log == ["welcome ada#1", "before sleep", "before sleep", "after sleep#1"]
    assert await execution.get_result() == "activated ada"
    assert not await checkpoint_kept(docket, "user-1")


async def test_a_suspended_task_waits_scheduled_without_a_slot(docket: Docket):
    """While suspended the key is SCHEDULED (due at the wake time) and a worker of
    concurrency 1 runs other tasks meanwhile."""
    others: list[int] = []

    async def other(n: int) -> None:
        others.append(n)

    async def sleeper(suspend: Suspend = Suspend()) -> None:
        log.append("sleeper")
        await suspend.until(soon(60))

    docket.register(other)
    docket.register(sleeper)
    await docket.add(sleeper, key="sleeper")()
    for n in range(5):
        await docket.add(other)(n)
    async with Worker(docket, concurrency=1, **FAST) as worker:
        task = asyncio.ensure_future(worker.run_forever())
        try:
            await eventually(lambda: len(others) == 5 and log == ["sleeper"])
            execution = await docket.get_execution("sleeper")
            assert execution is not None
            assert execution.state is ExecutionState.SCHEDULED
            assert execution.when > datetime.now(timezone.utc) + timedelta(seconds=50)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_a_satisfied_point_returns_at_once_on_a_retry(docket: Docket):
    """A retry after the sleep keeps the satisfied point: the second attempt does
    not sleep again, whatever time it asks for."""

    async def sleeps_then_fails(
        suspend: Suspend = Suspend(), retry: Retry = Retry(attempts=2)
    ) -> int:
        log.append(f"top#{retry.attempt}")
        await suspend.until(soon(0.2 if retry.attempt == 1 else 3600))
        if retry.attempt == 1:
            raise RuntimeError("fails once after the sleep")
        return retry.attempt

    docket.register(sleeps_then_fails)
    execution = await docket.add(sleeps_then_fails)()
    await run(docket)
    assert log == ["top#1", "top#1", "top#2"]
    assert await execution.get_result() == 2


async def test_a_time_already_past_does_not_suspend(docket: Docket):
    """``until`` a time already past returns at once (and counts as a point)."""

    async def past(suspend: Suspend = Suspend()) -> str:
        log.append("top")
        await suspend.until(datetime.now(timezone.utc) - timedelta(seconds=5))
        return "done"

    docket.register(past)
    execution = await docket.add(past)()
    await run(docket)
    assert log == ["top"]
    assert await execution.get_result() == "done"


async def test_a_naive_time_is_refused(docket: Docket):
    """A naive datetime fails the task with a clear TypeError."""

    async def naive(suspend: Suspend = Suspend()) -> None:
        await suspend.until(datetime.now() + timedelta(seconds=1))

    docket.register(naive)
    execution = await docket.add(naive)()
    await run(docket)
    with pytest.raises(TypeError, match="timezone-aware"):
        await execution.get_result()


async def test_cancelling_a_suspended_task_removes_it_and_its_checkpoint(
    docket: Docket,
):
    """A suspended key can be cancelled: it never runs again and its checkpoint
    is gone with it."""

    async def long_sleep(
        suspend: Suspend = Suspend(), steps: Checkpoint = Checkpoint()
    ) -> None:
        await steps.mark("started")
        log.append("top")
        await suspend.until(soon(3600))
        log.append("woke")

    docket.register(long_sleep)
    await docket.add(long_sleep, key="nap")()
    await run_until(docket, lambda: log == ["top"])
    async with docket.redis() as client:
        assert await client.exists(docket.keyspace.steps("nap"))
        assert await client.ttl(docket.keyspace.steps("nap")) > 3600
    await docket.cancel("nap")
    assert await state(docket, "nap") is ExecutionState.CANCELLED
    assert not await checkpoint_kept(docket, "nap")


async def test_replacing_a_suspended_task_starts_a_new_run(docket: Docket):
    """A replace of a suspended key is a new run: it starts without the old
    run's checkpoint (its marks are not seen by the replacement)."""

    async def long_sleep(
        steps: Checkpoint = Checkpoint(), suspend: Suspend = Suspend()
    ):
        if not await steps.done("welcome"):
            log.append("first")
            await steps.mark("welcome")
        await suspend.until(soon(3600))

    docket.register(long_sleep)
    await docket.add(long_sleep, key="user-2")()
    await run_until(docket, lambda: log == ["first"])
    await docket.replace(onboarding, datetime.now(timezone.utc), "user-2")("bob")
    log.clear()
    await run(docket)
    assert log == ["welcome bob#1", "before sleep", "before sleep", "after sleep#1"]


async def test_the_sleep_does_not_count_against_the_timeout(docket: Docket):
    """A task with a Timeout shorter than its sleep completes: each attempt's
    time is counted, the time it waits suspended is not."""

    async def patient(
        suspend: Suspend = Suspend(),
        timeout: Timeout = Timeout(timedelta(milliseconds=400)),
    ) -> str:
        await suspend.until(soon(0.6))
        return "on time"

    docket.register(patient)
    execution = await docket.add(patient)()
    await run(docket)
    assert await execution.get_result() == "on time"


async def test_a_perpetual_task_may_sleep_in_each_run(docket: Docket):
    """A Perpetual task that sleeps in the middle of each run goes on: every run
    sleeps once (its own point) and schedules its successor when it completes."""
    runs: list[str] = []

    async def ticking(
        suspend: Suspend = Suspend(),
        perpetual: Perpetual = Perpetual(every=timedelta(milliseconds=10)),
    ) -> None:
        await suspend.until(soon(0.05))
        runs.append("tick")
        if len(runs) == 3:
            perpetual.cancel()

    docket.register(ticking)
    await docket.add(ticking, key="ticking")()
    await run(docket)
    assert runs == ["tick", "tick", "tick"]


async def test_suspended_and_finished_runs_leave_no_key_without_a_ttl(
    docket: Docket,
):
    """A suspended run's checkpoint carries an expiry (past its wake time) while
    the key waits; once runs end, nothing they wrote is left without one."""

    async def long_sleep(
        suspend: Suspend = Suspend(), steps: Checkpoint = Checkpoint()
    ) -> None:
        await steps.set("value", 1)
        log.append("top")
        await suspend.until(soon(3600))

    docket.register(long_sleep)
    await docket.add(long_sleep, key="nap")()
    finished = await docket.add(onboarding, key="short")("eve")
    await run_until(docket, lambda: "after sleep#1" in log and "top" in log)
    assert await finished.get_result() == "activated eve"
    await assert_every_key_expires(docket)


async def test_fire_and_forget_dockets_keep_and_drop_checkpoints_too(
    docket_url: str, docket_name: str
):
    """On a docket with execution_ttl=0 (records deleted at the end) a run's
    checkpoint and suspension work the same, and nothing is left once it ends."""
    async with Docket(
        name=docket_name, url=docket_url, execution_ttl=timedelta(0)
    ) as docket:
        docket.register(onboarding)
        await docket.add(onboarding, key="ttl-0")("fay")
        await run(docket)
        assert log == ["welcome fay#1", "before sleep", "before sleep", "after sleep#1"]
        assert not await checkpoint_kept(docket, "ttl-0")
        async with docket.redis() as client:
            assert not await client.exists(docket.keyspace.runs("ttl-0"))
