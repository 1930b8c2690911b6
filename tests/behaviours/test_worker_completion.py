"""The completion path: handlers run once, chains survive, finished records are lean."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from docket import (
    Docket,
    Execution,
    ExecutionState,
    Perpetual,
    Worker,
)
from docket._broker.queue import QueueStore
from docket.dependencies import CompletionHandler, TaskOutcome
from tests._support.timings import FAST
from tests.conftest import eventually


class Exploding(CompletionHandler):
    """A completion handler that raises every time."""

    calls = 0

    async def __aenter__(self) -> Exploding:
        return self

    async def on_complete(self, execution: Execution, outcome: TaskOutcome) -> bool:
        type(self).calls += 1
        raise RuntimeError("the follow-up broke")


async def test_a_completion_handler_that_raises_fails_the_run_once(
    docket: Docket, worker: Worker
):
    """A raising on_complete ends the run FAILED with its error, acknowledged: it
    is not called a second time, and the message is not redelivered."""
    Exploding.calls = 0
    ran: list[int] = []

    async def task(handler: Exploding = Exploding()) -> None:
        ran.append(1)

    execution = await docket.add(task)()
    await worker.run_until_finished()
    await execution.sync()
    assert execution.state is ExecutionState.FAILED
    assert execution.error == "RuntimeError: the follow-up broke"
    assert (ran, Exploding.calls) == ([1], 1)
    async with docket.redis() as client:
        assert await client.xlen(docket.stream_key) == 0


async def test_a_cancelled_error_from_a_perpetual_body_ends_the_chain(
    docket: Docket, worker: Worker
):
    """A body that raises CancelledError itself ends its run cancelled, schedules no
    successor, and the worker still shuts down cleanly afterwards."""
    runs: list[int] = []

    async def ticking(perpetual: Perpetual = Perpetual(every=timedelta(0))) -> None:
        runs.append(1)
        raise asyncio.CancelledError

    execution = await docket.add(ticking, key="ticking")()
    running = asyncio.ensure_future(worker.run_forever())
    await eventually(lambda: runs)
    await eventually(lambda: state_is(execution, ExecutionState.CANCELLED))
    worker.stop()
    await asyncio.wait_for(running, 10)
    assert runs == [1]
    assert await docket.snapshot() is not None
    assert (await docket.snapshot()).total_tasks == 0


async def state_is(execution: Execution, state: ExecutionState) -> bool:
    await execution.sync()
    return execution.state is state


async def test_a_perpetual_chain_survives_a_failing_body(
    docket: Docket, worker: Worker
):
    """A perpetual body that raises still gets exactly one successor per run."""
    runs: list[int] = []

    async def flaky(perpetual: Perpetual = Perpetual(every=timedelta(0))) -> None:
        runs.append(1)
        if len(runs) >= 3:
            perpetual.cancel()
        raise ValueError("this run failed")

    await docket.add(flaky, key="flaky")()
    await worker.run_until_finished()
    assert len(runs) == 3


async def test_a_late_cancel_keeps_the_record_cancelled(docket: Docket, worker: Worker):
    """A run whose record was cancelled while it ran (the cancel signal lost)
    keeps 'cancelled': its settlement does not overwrite it with 'completed'."""
    started, release = asyncio.Event(), asyncio.Event()

    async def slow() -> str:
        started.set()
        await release.wait()
        return "done"

    execution = await docket.add(slow, key="slow")()
    running = asyncio.ensure_future(worker.run_until_finished())
    await started.wait()
    await docket.withdraw("slow")  # the record says cancelled; no signal is sent
    release.set()
    await running
    await execution.sync()
    assert execution.state is ExecutionState.CANCELLED


async def test_finished_records_drop_the_arguments(docket: Docket, worker: Worker):
    """A finished run record keeps no arguments (a 5 MB argument does not stay for
    the whole TTL: they are emptied), yet get_execution() still finds it (with
    empty arguments) and get_result() works."""

    async def echo(blob: bytes) -> int:
        return len(blob)

    await docket.add(echo, key="big")(b"x" * 100_000)
    await worker.run_until_finished()
    async with docket.redis() as client:
        fields = await client.hgetall(docket.runs_key("big"))
    assert fields[b"state"] == b"completed"
    assert fields.get(b"args", b"") == b"" and fields.get(b"kwargs", b"") == b""
    found = await docket.get_execution("big")
    assert found is not None and found.state is ExecutionState.COMPLETED
    assert found.args == () and found.kwargs == {}
    assert await found.get_result(timeout=timedelta(seconds=5)) == 100_000


@pytest.mark.parametrize("count", [2])
async def test_dead_letters_can_be_replayed_and_purged(
    docket: Docket, worker: Worker, count: int
):
    """Dead letters list newest first; replay re-adds the task under its key (the
    entry goes); purge removes the rest; replaying a broken entry is refused."""
    ran: list[Any] = []

    async def job(value: int) -> None:
        ran.append(value)

    docket.register(job)
    for value in range(count):
        execution = await docket.add(job, key=f"job-{value}")(value)
        async with docket.redis() as client:
            ((message_id, fields),) = await client.xrange(docket.stream_key)
            await client.xdel(docket.stream_key, message_id)
            await client.xadd(docket.stream_key, {**fields, b"attempt": b"zero"})
        await worker.run_until_finished()
        await execution.sync()
        assert execution.state is ExecutionState.FAILED
    letters = await docket.dead_letters.list()
    assert [letter.key for letter in letters] == ["job-1", "job-0"]
    with pytest.raises(ValueError, match="'attempt' field is not an integer"):
        await docket.dead_letters.replay(letters[0].id)
    async with docket.redis() as client:  # mend it by hand, then replay
        await client.xdel(docket.key("dead"), letters[0].id)
    assert await docket.dead_letters.count() == 1
    with pytest.raises(LookupError):
        await docket.dead_letters.replay(letters[0].id)
    assert await docket.dead_letters.purge() == 1
    assert await docket.dead_letters.list() == []


async def test_a_forced_stop_is_bounded_whatever_a_task_does(
    docket: Docket, worker: Worker, monkeypatch: pytest.MonkeyPatch
):
    """A task that swallows its cancellation cannot hold a forced stop: the worker
    gives up on it after ABANDON_GRACE (its message stays for redelivery)."""
    from docket import _defaults

    monkeypatch.setattr(_defaults, "ABANDON_GRACE", timedelta(milliseconds=300))
    started, release = asyncio.Event(), asyncio.Event()

    async def stubborn() -> None:
        started.set()
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue  # ignores every cancellation

    await docket.add(stubborn)()
    running = asyncio.ensure_future(worker.run_forever())
    await started.wait()
    worker.stop(graceful=False)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(running, 5)
    release.set()  # let the abandoned body end, so the test leaves nothing behind


async def test_run_until_finished_ends_with_the_last_task(docket: Docket):
    """run_until_finished returns once the last task settled, not after another
    check interval: with a one-minute interval, a short run is over in seconds
    (also with tasks still running when the stream runs dry, and with tasks that
    were only due a moment later)."""
    ran: list[str] = []

    async def quick(label: str) -> None:
        await asyncio.sleep(0.01)
        ran.append(label)

    for label in ("a", "b", "c"):
        await docket.add(quick)(label)
    soon = datetime.now(timezone.utc) + timedelta(milliseconds=50)
    await docket.add(quick, when=soon)("later")
    async with Worker(
        docket, concurrency=2, minimum_check_interval=timedelta(minutes=1)
    ) as worker:
        await asyncio.wait_for(worker.run_until_finished(), 20)
    assert sorted(ran) == ["a", "b", "c", "later"]


async def test_run_until_finished_ends_soon_after_another_worker_settles(
    docket_url: str, docket_name: str, monkeypatch: pytest.MonkeyPatch
):
    """A run until finished that finds the last task held by another worker waits
    for it, and returns soon after that worker settles it, not a (one-minute)
    check interval later: the other worker's settle wakes nothing, so it looks
    again soon, then less and less often."""
    gate, started, looked = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def held() -> None:
        started.set()
        await gate.wait()

    slow = {"minimum_check_interval": timedelta(minutes=1)}
    async with Docket(name=docket_name, url=docket_url) as ours:
        async with Docket(name=docket_name, url=docket_url) as theirs:
            ours.register(held)
            theirs.register(held)
            await theirs.add(held, key="held")()
            looking = QueueStore.pending_work

            async def pending_work(
                queue: QueueStore,
            ) -> bool:  # the real call, observed
                found = await looking(queue)
                if found:  # only "mine" is idle before the gate opens
                    looked.set()
                return found

            monkeypatch.setattr(QueueStore, "pending_work", pending_work)
            async with (
                Worker(theirs, name="other", **slow) as other,
                Worker(ours, name="mine", **slow) as mine,
            ):
                run_other = asyncio.ensure_future(other.run_until_finished())
                await asyncio.wait_for(started.wait(), 10)
                run_mine = asyncio.ensure_future(mine.run_until_finished())
                await asyncio.wait_for(looked.wait(), 10)  # it saw the task held
                gate.set()
                done, _ = await asyncio.wait({run_mine, run_other}, timeout=20)
                assert done == {run_mine, run_other}


class BlinkingPerpetual(Perpetual):
    """A Perpetual whose successor scheduling meets a Redis error ``failures``
    times (a blip), then works."""

    failures = 0
    calls = 0

    async def on_complete(self, execution: Execution, outcome: TaskOutcome) -> bool:
        type(self).calls += 1
        if type(self).calls <= type(self).failures:
            raise RedisConnectionError("Redis blinked while scheduling the successor")
        return await super().on_complete(execution, outcome)


async def blinking_chain(
    perpetual: BlinkingPerpetual = BlinkingPerpetual(every=timedelta(milliseconds=10)),
) -> None:
    CHAIN.append("ran")


async def failing_blinking_chain(
    perpetual: BlinkingPerpetual = BlinkingPerpetual(every=timedelta(milliseconds=10)),
) -> None:
    CHAIN.append("ran")
    raise ValueError("the body failed")


CHAIN: list[str] = []


@pytest.mark.parametrize("body", [blinking_chain, failing_blinking_chain])
async def test_a_perpetual_chain_survives_redis_failing_its_successor(
    docket: Docket, body: Any, caplog: pytest.LogCaptureFixture
):
    """When Redis fails the successor's scheduling (after a body that succeeded or
    failed, no Retry), the worker tries again in place, logging each failure (at
    DEBUG), and the chain goes on."""
    CHAIN.clear()
    BlinkingPerpetual.calls, BlinkingPerpetual.failures = 0, 2
    docket.register(body)
    await docket.add(body, key="chain")()
    async with Worker(
        docket,
        reconnection_delay=timedelta(milliseconds=10),
        **FAST,
    ) as worker:
        with caplog.at_level("DEBUG", logger="docket.worker"):
            await asyncio.wait_for(worker.run_at_most({"chain": 3}), 30)
    assert CHAIN == ["ran"] * 3
    blips = [
        r
        for r in caplog.records
        if r.name == "docket.worker" and "Failed to follow up" in r.getMessage()
    ]
    assert len(blips) == 2  # each at DEBUG; the outage log tells it once


async def test_a_worker_stopped_during_the_blip_hands_the_chain_over(docket: Docket):
    """Redis fails the successor for as long as the first worker runs: stopped,
    that worker leaves the message unacknowledged, and a second worker takes it
    up after the redelivery timeout, runs the body again and the chain goes on."""
    CHAIN.clear()
    BlinkingPerpetual.calls, BlinkingPerpetual.failures = 0, 10**9
    docket.register(blinking_chain)
    await docket.add(blinking_chain, key="chain")()
    fast = {
        "redelivery_timeout": timedelta(milliseconds=200),
        "reconnection_delay": timedelta(milliseconds=10),
        "minimum_check_interval": timedelta(milliseconds=5),
        "scheduling_resolution": timedelta(milliseconds=5),
    }
    async with Worker(docket, **fast) as first:
        running = asyncio.ensure_future(first.run_forever())
        await eventually(lambda: CHAIN and BlinkingPerpetual.calls >= 2)
        first.stop()
        await asyncio.wait_for(running, 10)
    assert CHAIN == ["ran"]
    BlinkingPerpetual.failures = 0
    async with Worker(docket, **fast) as second:
        await asyncio.wait_for(second.run_at_most({"chain": 3}), 30)
    assert len(CHAIN) >= 3


async def test_a_task_that_ignores_its_cancellation_ends_as_its_body_did(
    docket: Docket, worker: Worker
):
    """A running task cancelled by ``docket.cancel`` that catches the
    CancelledError and returns normally ends COMPLETED (as in pydocket): it
    received the cancellation and chose to finish."""
    started, caught = asyncio.Event(), asyncio.Event()

    async def stubborn() -> str:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            caught.set()
        return "finished anyway"

    docket.register(stubborn)
    execution = await docket.add(stubborn)()
    running = asyncio.ensure_future(worker.run_until_finished())
    await asyncio.wait_for(started.wait(), 10)
    await docket.cancel(execution.key)
    await asyncio.wait_for(caught.wait(), 10)
    await asyncio.wait_for(running, 10)
    await execution.sync()
    assert execution.state is ExecutionState.COMPLETED
    assert await execution.get_result() == "finished anyway"
