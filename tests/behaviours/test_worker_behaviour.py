"""Worker behaviours through the public API, on memory:// and a real redis-server."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from docket import (
    CurrentExecution,
    Docket,
    Execution,
    ExecutionCancelled,
    ExecutionState,
    Perpetual,
    Retry,
    Timeout,
    Worker,
)
from tests.conftest import eventually


@pytest.mark.cluster_ok
async def test_cancel_a_running_task(docket: Docket, worker: Worker):
    """docket.cancel(key) cancels a running task, which ends CANCELLED."""
    started = asyncio.Event()
    cleaned_up = asyncio.Event()

    async def long_running() -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        finally:
            cleaned_up.set()

    execution = await docket.add(long_running, key="long")()
    run = asyncio.ensure_future(worker.run_until_finished())
    await asyncio.wait_for(started.wait(), 5)
    await docket.cancel("long")
    await asyncio.wait_for(run, 5)
    assert cleaned_up.is_set()
    with pytest.raises(ExecutionCancelled):
        await execution.get_result(timeout=timedelta(seconds=2))


@pytest.mark.cluster_ok
async def test_cancel_a_future_task_before_it_runs(docket: Docket, worker: Worker):
    """A cancelled future task never runs and its waiters are released."""
    ran: list[str] = []

    async def reminder() -> None:
        ran.append("ran")

    when = datetime.now(timezone.utc) + timedelta(milliseconds=100)
    execution = await docket.add(reminder, when=when, key="reminder")()
    waiter = asyncio.ensure_future(execution.get_result(timeout=timedelta(seconds=10)))
    await asyncio.sleep(
        0.05
    )  # let the waiter subscribe; the outcome does not depend on it
    await docket.cancel("reminder")
    with pytest.raises(ExecutionCancelled):
        await asyncio.wait_for(waiter, 3)
    await worker.run_until_finished()
    assert ran == []


async def test_cancel_after_the_scheduler_moved_the_task(docket: Docket):
    """Cancelling a due task that sits in the stream unclaimed stops it."""
    ran: list[str] = []

    async def job() -> None:
        ran.append("ran")

    when = datetime.now(timezone.utc) + timedelta(milliseconds=20)
    await docket.add(job, when=when, key="moved")()
    await eventually(lambda: datetime.now(timezone.utc) > when)
    result = await docket.broker.queue.stream_due(
        datetime.now(timezone.utc).timestamp()
    )
    assert result.moved == 1
    await docket.cancel("moved")
    async with Worker(
        docket, minimum_check_interval=timedelta(milliseconds=5)
    ) as worker:
        await worker.run_until_finished()
    assert ran == []


@pytest.mark.cluster_ok
async def test_replace_while_running_supersedes(docket: Docket, worker: Worker):
    """Replacing a running key schedules the successor; the old run does not overwrite it."""
    gate = asyncio.Event()
    seen: list[str] = []

    async def step(label: str) -> str:
        seen.append(label)
        if label == "first":
            await gate.wait()
        return label

    await docket.add(step, key="step")("first")
    run = asyncio.ensure_future(worker.run_until_finished())
    await eventually(lambda: seen == ["first"])
    later = datetime.now(timezone.utc) + timedelta(milliseconds=50)
    successor = await docket.replace(step, when=later, key="step")("second")
    gate.set()
    await asyncio.wait_for(run, 5)
    assert seen == ["first", "second"]
    assert await successor.get_result(timeout=timedelta(seconds=2)) == "second"


@pytest.mark.cluster_ok
async def test_retry_until_success(docket: Docket, worker: Worker):
    """Retry reschedules a failing task until an attempt succeeds."""
    attempts: list[int] = []

    async def flaky(retry: Retry = Retry(attempts=3)) -> int:
        attempts.append(retry.attempt)
        if retry.attempt < 3:
            raise RuntimeError("not yet")
        return retry.attempt

    execution = await docket.add(flaky)()
    await worker.run_until_finished()
    assert attempts == [1, 2, 3]
    assert await execution.get_result() == 3


@pytest.mark.cluster_ok
async def test_retries_exhausted_fail(docket: Docket, worker: Worker):
    """When every attempt fails the execution ends FAILED with the last error."""

    async def always(retry: Retry = Retry(attempts=2)) -> None:
        raise RuntimeError(f"attempt {retry.attempt}")

    execution = await docket.add(always)()
    await worker.run_until_finished()
    with pytest.raises(RuntimeError, match="attempt 2"):
        await execution.get_result()


@pytest.mark.cluster_ok
async def test_perpetual_runs_at_most(docket: Docket, worker: Worker):
    """A perpetual task reschedules itself; run_at_most bounds it by key."""
    runs: list[int] = []

    async def tick(
        perpetual: Perpetual = Perpetual(every=timedelta(milliseconds=10)),
    ) -> None:
        runs.append(1)

    await docket.add(tick, key="tick")()
    await worker.run_at_most({"tick": 3})
    assert len(runs) == 3


async def test_automatic_perpetual_starts_itself(docket: Docket, worker: Worker):
    """A Perpetual(automatic=True) task is seeded by the worker under its name."""
    runs: list[str] = []

    async def janitor(
        perpetual: Perpetual = Perpetual(
            every=timedelta(milliseconds=10), automatic=True
        ),
    ) -> None:
        runs.append("swept")

    docket.register(janitor)
    await worker.run_at_most({"janitor": 2})
    assert runs == ["swept", "swept"]


async def test_timeout_fails_a_slow_task(docket: Docket, worker: Worker):
    """Timeout cancels the body past its limit and the execution fails with TimeoutError."""

    async def slow(timeout: Timeout = Timeout(timedelta(milliseconds=50))) -> None:
        await asyncio.sleep(10)

    execution = await docket.add(slow)()
    await worker.run_until_finished()
    with pytest.raises(TimeoutError):
        await execution.get_result()


async def test_sync_task_runs_in_a_thread(docket: Docket, worker: Worker):
    """A plain function runs in a worker thread, not on the event loop's thread."""
    loop_thread = threading.get_ident()

    def blocking(x: int) -> tuple[int, bool]:
        return x * 2, threading.get_ident() != loop_thread

    execution = await docket.add(blocking)(21)
    await worker.run_until_finished()
    assert await execution.get_result() == (42, True)


async def test_unknown_task_goes_to_fallback(docket: Docket):
    """A message for an unregistered name runs the fallback with the original arguments."""
    received: list[Any] = []

    async def known(x: int) -> None:
        pass

    await docket.add(known)(7)
    del docket.tasks["known"]

    async def fallback(
        *args: Any, execution: Execution = CurrentExecution(), **kwargs: Any
    ) -> str:
        received.append((execution.function_name, args))
        return "handled"

    async with Worker(
        docket, fallback_task=fallback, minimum_check_interval=timedelta(milliseconds=5)
    ) as worker:
        await worker.run_until_finished()
    assert received == [("known", (7,))]


async def test_default_fallback_completes_and_consumes(
    docket: Docket, worker: Worker, caplog
):
    """The default fallback logs a warning and completes, so the message is consumed."""

    async def gone() -> None:
        pass

    execution = await docket.add(gone)()
    del docket.tasks["gone"]
    await worker.run_until_finished()
    await execution.sync()
    assert execution.state is ExecutionState.COMPLETED
    assert "Unknown task 'gone' received - dropping" in caplog.text


class Unpicklable:
    def __reduce__(self) -> Any:
        raise TypeError("cannot pickle this")


async def test_unpicklable_result_fails_cleanly(docket: Docket, worker: Worker):
    """A result that cannot be pickled fails that execution; the worker carries on."""

    async def bad_result() -> Unpicklable:
        return Unpicklable()

    async def fine() -> str:
        return "fine"

    bad = await docket.add(bad_result)()
    good = await docket.add(fine)()
    await worker.run_until_finished()
    await bad.sync()
    assert bad.state is ExecutionState.FAILED
    assert "cannot pickle this" in (bad.error or "")
    assert await good.get_result() == "fine"


class UnpicklableError(Exception):
    def __reduce__(self) -> Any:
        raise TypeError("cannot pickle this error")


async def test_unpicklable_exception_is_stored_as_text(docket: Docket, worker: Worker):
    """An exception that cannot be pickled ends FAILED with a readable error (12.2 #4)."""

    async def raises() -> None:
        raise UnpicklableError("special failure")

    execution = await docket.add(raises)()
    await worker.run_until_finished()
    with pytest.raises(Exception, match="UnpicklableError: special failure"):
        await execution.get_result()


async def test_payload_that_cannot_be_loaded_fails_and_is_acknowledged(
    docket: Docket, worker: Worker
):
    """A message whose arguments cannot be unpickled ends FAILED, not a crashed worker."""

    async def target(x: int) -> int:
        return x

    execution = await docket.add(target)(1)
    # Corrupt the queued message's arguments in place: replace it with a bad copy.
    async with docket.redis() as client:
        entries = await client.xrange(docket.stream_key)
        message_id, fields = entries[0]
        fields[b"args"] = b"not a pickle"
        await client.xdel(docket.stream_key, message_id)
        new_id = await client.xadd(docket.stream_key, fields)
        await client.hset(docket.runs_key(execution.key), "stream_id", new_id)
    after = await docket.add(target)(2)
    await worker.run_until_finished()
    await execution.sync()
    assert execution.state is ExecutionState.FAILED
    assert "payload" in (execution.error or "")
    assert await after.get_result() == 2
    async with docket.redis() as client:
        assert await client.xlen(docket.stream_key) == 0


async def test_workers_are_listed_while_running(docket: Docket, worker: Worker):
    """A running worker heartbeats into workers() and task_workers(); it leaves on stop."""
    run = asyncio.ensure_future(worker.run_forever())
    infos = await eventually(docket.workers)
    assert [info.name for info in infos] == [worker.name]
    assert "trace" in next(iter(infos)).tasks
    assert [i.name for i in await docket.task_workers("trace")] == [worker.name]
    run.cancel()
    await run
    assert list(await docket.workers()) == []


async def test_cancelling_run_forever_drains_in_flight(docket: Docket, worker: Worker):
    """Cancelling run_forever waits for the running task, then returns normally."""
    started = asyncio.Event()
    finished: list[str] = []

    async def careful() -> None:
        started.set()
        await asyncio.sleep(0.1)
        finished.append("done")

    execution = await docket.add(careful)()
    run = asyncio.ensure_future(worker.run_forever())
    await asyncio.wait_for(started.wait(), 5)
    run.cancel()
    await run  # returns normally
    assert finished == ["done"]
    await execution.sync()
    assert execution.state is ExecutionState.COMPLETED


async def test_a_task_cancelled_from_outside_while_the_worker_drains(
    docket: Docket, worker: Worker
):
    """Cancelling run_until_finished and then the running task's own asyncio task
    (as asyncio.run() does at shutdown) ends the drain at once; the message stays
    pending for redelivery instead of the drain waiting for ever."""
    runners: list[asyncio.Task[Any]] = []

    async def sleepy() -> None:
        task = asyncio.current_task()
        assert task is not None
        runners.append(task)
        await asyncio.sleep(30)

    await docket.add(sleepy, key="sleepy")()
    run = asyncio.ensure_future(worker.run_until_finished())
    await eventually(lambda: runners)
    run.cancel()
    runners[0].cancel()
    outcomes = await asyncio.wait_for(
        asyncio.gather(run, runners[0], return_exceptions=True), 10
    )
    assert isinstance(outcomes[1], asyncio.CancelledError)
    async with docket.redis() as client:
        pending = await client.xpending(docket.stream_key, docket.worker_group_name)
    assert pending["pending"] == 1  # left for redelivery, not settled


async def test_a_task_that_cancels_its_own_asyncio_task_runs_once(docket: Docket):
    """A task whose body cancels its own asyncio task (nobody called cancel(), the
    worker is not stopping) ends CANCELLED and is acknowledged: it is not left
    pending to run again after every redelivery timeout."""
    runs: list[int] = []

    async def self_cancelling() -> None:
        runs.append(1)
        if len(runs) == 1:
            task = asyncio.current_task()
            assert task is not None
            task.cancel()
            await asyncio.sleep(1)

    execution = await docket.add(self_cancelling)()
    async with Worker(docket, redelivery_timeout=timedelta(milliseconds=200)) as w:
        await asyncio.wait_for(w.run_until_finished(), 10)
    await execution.sync()
    assert runs == [1]
    assert execution.state is ExecutionState.CANCELLED
    async with docket.redis() as client:
        pending = await client.xpending(docket.stream_key, docket.worker_group_name)
    assert pending["pending"] == 0


async def test_concurrency_is_respected(docket: Docket):
    """No more than `concurrency` tasks run at once."""
    running = 0
    peak = 0

    async def busy() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    for _ in range(30):
        await docket.add(busy)()
    async with Worker(
        docket, concurrency=4, minimum_check_interval=timedelta(milliseconds=5)
    ) as worker:
        await worker.run_until_finished()
    assert peak == 4


async def test_redelivery_of_abandoned_message(docket: Docket):
    """A message another consumer read but never acknowledged is redelivered."""
    seen: list[bool] = []

    async def job(execution: Execution = CurrentExecution()) -> None:
        seen.append(execution.redelivered)

    await docket.add(job)()
    await docket.broker.ensure_group()
    taken = await docket.broker.queue.read("crashed-worker", 10, 10)
    assert len(taken) == 1
    async with Worker(
        docket,
        redelivery_timeout=timedelta(milliseconds=100),
        minimum_check_interval=timedelta(milliseconds=5),
    ) as worker:
        await worker.run_until_finished()
    assert seen == [True]


async def test_long_task_keeps_its_lease(docket: Docket):
    """A task longer than redelivery_timeout is not redelivered while its worker lives."""
    runs: list[int] = []

    async def long_job() -> None:
        runs.append(1)
        await asyncio.sleep(0.6)

    await docket.add(long_job)()
    options: dict[str, Any] = dict(
        redelivery_timeout=timedelta(milliseconds=200),
        minimum_check_interval=timedelta(milliseconds=5),
    )
    async with (
        Worker(docket, name="one", **options) as one,
        Worker(docket, name="two", **options) as two,
    ):
        await asyncio.gather(one.run_until_finished(), two.run_until_finished())
    assert runs == [1]


@pytest.mark.cluster_ok
async def test_strike_at_worker_cancels_queued_work(docket: Docket, worker: Worker):
    """A task struck after it was queued is cancelled at the worker, not run."""
    ran: list[int] = []

    async def target(customer: int) -> None:
        ran.append(customer)

    execution = await docket.add(target)(1)
    await docket.add(target)(2)
    await docket.strike(target, "customer", "==", 1)
    await worker.run_until_finished()
    assert ran == [2]
    await execution.sync()
    assert execution.state is ExecutionState.CANCELLED


async def test_many_dockets_on_memory_are_isolated():
    """Two memory:// dockets with different URLs never see each other's tasks."""
    ran: list[str] = []

    async def job(label: str) -> None:
        ran.append(label)

    async with (
        Docket(name="same", url="memory://iso-a") as a,
        Docket(name="same", url="memory://iso-b") as b,
    ):
        await a.add(job)("a")
        async with Worker(
            b, minimum_check_interval=timedelta(milliseconds=5)
        ) as worker:
            await worker.run_until_finished()
        assert ran == []
        async with Worker(
            a, minimum_check_interval=timedelta(milliseconds=5)
        ) as worker:
            await worker.run_until_finished()
        assert ran == ["a"]


async def test_sync_tasks_run_up_to_concurrency_at_once(docket: Docket):
    """Plain functions get a thread each, up to the worker's concurrency (not the loop's
    small default pool)."""
    concurrency = 12
    barrier = threading.Barrier(concurrency, timeout=10)

    def rendezvous() -> bool:
        barrier.wait()  # only returns once all of them run at the same time
        return True

    executions = [await docket.add(rendezvous)() for _ in range(concurrency)]
    async with Worker(
        docket,
        concurrency=concurrency,
        minimum_check_interval=timedelta(milliseconds=5),
    ) as worker:
        await worker.run_until_finished()
    assert [await e.get_result() for e in executions] == [True] * concurrency
