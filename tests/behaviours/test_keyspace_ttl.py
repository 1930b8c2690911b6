"""Every key a docket writes expires, except the few the contract keeps.

After each scenario the whole keyspace of the docket is scanned: a key without a
TTL must be one of the docket's permanent structures (the stream with its consumer
group, the future queue, the strike log), or belong to a task that is still live
(its parked message and run record, which expire once it finishes).
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from datetime import datetime, timedelta, timezone
from typing import Annotated

from docket import (
    ConcurrencyLimit,
    Cooldown,
    Debounce,
    Docket,
    Execution,
    ExecutionState,
    Perpetual,
    Progress,
    RateLimit,
    Retry,
    Signal,
    Worker,
)
from tests._support.timings import FAST
from tests.conftest import eventually

# The docket's permanent structures, and why each has no expiry:
# - stream: the task stream carries the consumer group (its pending entries are the
#   at-least-once record); an expired stream would drop the group and every pending
#   message with it. Entries leave it as they are acknowledged.
# - queue: the future queue; empty, Redis deletes it, and each member is a live task.
# - strikes: the strike log is the source of truth for strikes that stay in force
#   until restored; StrikeList replays it from the start.
# - paused: the pause marks, in force until resumed (like the strike log).
# - paused:<task>: the keys held while a task type is paused, each a live task
#   (like the queue); emptied by the resume, Redis deletes it.
# - waiting: the index of the tasks waiting for parents (like the queue: bounded
#   by the live tasks it lists; the embedded engine keeps it once emptied).
PERMANENT = ("stream", "queue", "strikes", "paused", "waiting")
PERMANENT_FAMILIES = ("paused:",)
LIVE_STATES = {b"scheduled", b"queued", b"running"}


async def keys_without_ttl(docket: Docket) -> list[str]:
    """The docket's keys that never expire and are neither permanent nor live."""
    prefix = docket.prefix
    permanent = {f"{prefix}:{name}" for name in PERMANENT}
    leaking: list[str] = []
    async with docket.redis() as client:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        for raw in keys:
            key = raw.decode() if isinstance(raw, bytes) else str(raw)
            suffix = key[len(prefix) + 1 :]
            if key in permanent or suffix.startswith(PERMANENT_FAMILIES):
                continue
            if await client.ttl(key) != -1:
                continue
            task_key = suffix[len("runs:") :] if suffix.startswith("runs:") else None
            if task_key is None:
                parked = {docket.parked_task_key(k) for k in await _live_keys(docket)}
                if key in parked:
                    continue
            else:
                state = await client.hget(docket.runs_key(task_key), "state")
                if state in LIVE_STATES:
                    continue
            leaking.append(key)
    return sorted(leaking)


async def assert_every_key_expires(docket: Docket) -> None:
    leaking = await keys_without_ttl(docket)
    assert not leaking, "keys without a TTL: " + ", ".join(leaking)


async def finished(execution: Execution) -> bool:
    await execution.sync()
    return execution.state in (ExecutionState.COMPLETED, ExecutionState.FAILED)


async def _live_keys(docket: Docket) -> list[str]:
    """Keys of the tasks that wait: future ones and those held for a paused type."""
    async with docket.redis() as client:
        sets = [docket.queue_key]
        sets += [docket.keyspace.paused_tasks(t) for t in await docket.paused()]
        members = [m for s in sets for m in await client.zrange(s, 0, -1)]
    return [m.decode() for m in members]


async def test_finished_failed_retried_and_dead_lettered_work_leaves_no_eternal_key(
    docket: Docket,
):
    """Completed, failed (archived in P:failed), retried, progress-reporting and
    dead-lettered tasks, worker heartbeats, capacity and throughput counts: every
    key they leave behind carries an expiry."""

    async def ok(progress: Progress = Progress()) -> int:
        await progress.set_total(2)
        await progress.increment()
        return 1

    async def boom() -> None:
        raise ValueError("boom")

    async def flaky(retry: Retry = Retry(attempts=2)) -> None:
        if retry.attempt == 1:
            raise ValueError("once")

    for function in (ok, boom, flaky):
        docket.register(function)
    results = [
        await docket.add(ok)(),
        await docket.add(boom)(),
        await docket.add(flaky)(),
    ]
    async with docket.redis() as client:
        await client.xadd(docket.stream_key, {"key": "no-function-here"})
    async with Worker(docket, **FAST) as worker:
        running = asyncio.create_task(worker.run_forever())
        assert await results[0].get_result() == 1
        async with docket.redis() as client:
            await eventually(lambda: client.xlen(docket.keyspace.failed))
            await eventually(lambda: client.xlen(docket.keyspace.dead))
            await eventually(lambda: client.exists(docket.keyspace.worker_capacity))
        await eventually(lambda: finished(results[2]))
        await assert_every_key_expires(docket)
        running.cancel()
        with suppress(asyncio.CancelledError):
            await running
    await assert_every_key_expires(docket)


async def test_admission_controls_perpetuals_and_cancellations_leave_no_eternal_key(
    docket: Docket,
):
    """Concurrency slots, debounce, rate-limit and cooldown marks, a perpetual
    task's chain, a cancelled future task, strikes and a listener's flag: only the
    permanent structures and live tasks lack an expiry."""
    runs: list[str] = []

    async def limited(
        customer: Annotated[int, ConcurrencyLimit(1)],
        debounce: Debounce = Debounce(timedelta(milliseconds=1)),
    ) -> None:
        runs.append("limited")

    async def cooled(
        cooldown: Cooldown = Cooldown(timedelta(seconds=30)),
        rate: RateLimit = RateLimit(10, per=timedelta(seconds=30)),
    ) -> None:
        runs.append("cooled")

    async def forever(
        perpetual: Perpetual = Perpetual(every=timedelta(milliseconds=5)),
    ) -> None:
        runs.append("forever")
        if runs.count("forever") >= 3:
            perpetual.cancel()

    async def later() -> None:
        runs.append("later")

    for function in (limited, cooled, forever, later):
        docket.register(function)
    await docket.add(limited)(1)
    await docket.add(limited)(1)
    await docket.add(cooled)()
    await docket.add(forever, key="forever")()
    future = await docket.add(
        later, when=datetime.now(timezone.utc) + timedelta(hours=1)
    )()
    await docket.cancel(future.key)
    await docket.strike(later, "nothing", "==", 1)
    await docket.pause(cooled)
    await docket.add(cooled, key="held")()
    async with Worker(docket, **FAST) as worker:
        done = await docket.add(later)()
        waiter = asyncio.create_task(done.get_result())
        await worker.run_until_finished()
        await waiter
        await assert_every_key_expires(docket)  # a paused type's work is held
        await docket.resume(cooled)
        await worker.run_until_finished()
    assert runs.count("forever") == 3
    await docket.add(
        later, when=datetime.now(timezone.utc) + timedelta(hours=1), key="parked"
    )()
    await assert_every_key_expires(docket)
    async with docket.redis() as client:
        assert await client.exists(docket.parked_task_key("parked")) == 1


async def test_workflows_leave_no_eternal_key(docket: Docket):
    """A fan-in, a chain, a follower cancelled by its failed parent, and a
    waiting follower cancelled with its parent: once the work has ended, every
    gate, waiter set and run record expires."""

    async def part(n: int) -> int:
        return n

    async def broken() -> None:
        raise RuntimeError("no")

    for task in (part, broken):
        docket.register(task)
    parents = [await docket.add(part, key=f"part-{n}")(n) for n in range(3)]
    await docket.add(part, key="fan-in", after=parents)(9)
    failing = await docket.add(broken, key="broken")()
    await docket.add(part, key="cancelled-follower", after=[failing])(0)
    await docket.chain(docket.call(part)(1), docket.call(part)(2))
    async with Worker(docket, **FAST) as worker:
        await worker.run_until_finished()
    assert await (await docket.get_execution("fan-in")).get_result() == 9  # type: ignore[union-attr]
    later = await docket.add(
        part, key="later", when=datetime.now(timezone.utc) + timedelta(hours=1)
    )(0)
    await docket.add(part, key="still-waiting", after=[later])(0)
    await docket.cancel("later")  # cancels its waiting follower too
    await assert_every_key_expires(docket)


async def test_signal_waits_leave_no_eternal_key(docket: Docket):
    """Signals: a task released by its signal, one by its timeout, one whose
    waiting was cancelled, one released by a kept signal, and a signal kept for
    nobody: once that work has ended, every gate, waiter set and deadline is gone
    or expires, and the kept signal expires with its lookback."""

    async def approve(n: int, answer: str = Signal("answer-{n}")) -> str:
        return answer

    async def expire(
        n: int,
        answer: str = Signal(
            "gone-{n}", timeout=timedelta(milliseconds=50), default="-"
        ),
    ) -> str:
        return answer

    for task in (approve, expire):
        docket.register(task)
    await docket.add(approve, key="signalled")(1)
    await docket.signal("answer-1", "yes")
    await docket.add(approve, key="cancelled")(2)
    await docket.cancel("cancelled")
    await docket.signal("answer-3", "kept")
    await docket.add(approve, key="took-kept")(3)
    await docket.signal("answer-4", "for nobody")
    timed = await docket.add(expire, key="timed-out")(5)
    async with Worker(docket, **FAST) as worker:
        running = asyncio.create_task(worker.run_forever())
        try:
            await eventually(lambda: finished(timed), timeout=10)
            await worker.run_until_finished()
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
    assert timed.state is ExecutionState.COMPLETED
    await assert_every_key_expires(docket)


async def test_fair_share_leaves_no_eternal_key_but_its_weights(docket: Docket):
    """FairShare backlogs, their index and release bookkeeping: once the work is
    done (one task cancelled while it waited in a backlog), only the weights (a
    setting, like the strike log) lack an expiry."""
    from docket import FairShare

    async def shared(n: int, tenant: Annotated[str, FairShare()]) -> None: ...

    docket.register(shared)
    await docket.set_fair_share_weight(shared, "b", 2)
    for n in range(15):
        await docket.add(shared)(n, "a")
        await docket.add(shared)(n, "b")
    await docket.add(shared, key="dropped")(99, "c")
    await docket.cancel("dropped")
    async with Worker(docket, **FAST) as worker:
        await worker.run_until_finished()
    leaking = await keys_without_ttl(docket)
    assert leaking == [f"{docket.prefix}:fair:weights"], leaking


async def test_priorities_leave_no_eternal_key(docket: Docket):
    """Priority lanes, their parked messages and the dispatch bookkeeping: once
    tasks of several priorities (one scheduled, one cancelled on its lane, one
    refused by MaxQueued) are done, every key left expires."""
    from docket import MaxQueued, QueueFull

    async def ranked(n: int) -> None: ...

    async def capped(n: int, most: MaxQueued = MaxQueued(1)) -> None: ...

    docket.register(ranked)
    docket.register(capped)
    for n in range(10):
        await docket.add(ranked, priority=1 + n % 9)(n)
    soon = datetime.now(timezone.utc) + timedelta(milliseconds=50)
    await docket.add(ranked, when=soon, priority=9)(100)
    await docket.add(ranked, key="dropped", priority=2)(101)
    await docket.cancel("dropped")
    await docket.add(capped, priority=7)(1)
    with suppress(QueueFull):
        await docket.add(capped, priority=7)(2)
    async with Worker(docket, **FAST) as worker:
        await worker.run_until_finished()
    await assert_every_key_expires(docket)
