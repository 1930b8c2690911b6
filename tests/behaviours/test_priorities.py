"""Priorities through a real Docket and Worker, on both backends: among due tasks
a higher priority starts first, a task's ``Priority`` default and a call's
``priority=`` (the call wins), scheduled tasks keep their priority when they come
due, retries and Perpetual successors keep it, cancel and replace withdraw a task
waiting on a lane, and aging lets a low priority start behind a stream of high."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from docket import (
    ConcurrencyLimit,
    Disposition,
    Docket,
    ExecutionState,
    Perpetual,
    Priority,
    Retry,
    Worker,
)
from docket._console.entries import FailedTask
from tests._support.timings import fast_worker
from tests.conftest import eventually

ORDER: list[str] = []


async def work(label: str) -> None:
    ORDER.append(label)


async def background(label: str, priority: Priority = Priority(2)) -> None:
    """A task whose default priority is 2."""
    ORDER.append(label)


async def seen_priority(label: str, priority: Priority = Priority(3)) -> None:
    """Records the priority its run was added with."""
    ORDER.append(f"{label}:{priority.value}")


FAILS_LEFT: dict[str, int] = {}


async def flaky(label: str, retry: Retry = Retry(attempts=3)) -> None:
    if FAILS_LEFT.get(label, 0) > 0:
        FAILS_LEFT[label] -= 1
        raise RuntimeError("not yet")
    ORDER.append(label)


async def ticking(
    perpetual: Perpetual = Perpetual(every=timedelta(milliseconds=1)),
    priority: Priority = Priority(5),
) -> None:
    ORDER.append(f"tick:{priority.value}")
    if len(ORDER) >= 3:
        perpetual.cancel()


GATES: dict[str, asyncio.Event] = {}


async def limited(label: str, limit: ConcurrencyLimit = ConcurrencyLimit(1)) -> None:
    """One at a time; waits for its gate, if it has one."""
    ORDER.append(label)
    if label in GATES:
        await GATES[label].wait()


async def held(label: str) -> None:
    """Takes a worker slot until its gate opens."""
    ORDER.append(label)
    await GATES[label].wait()


async def brief(label: str) -> None:
    ORDER.append(label)
    await asyncio.sleep(0.05)


@pytest.fixture(autouse=True)
def fresh() -> None:
    ORDER.clear()
    FAILS_LEFT.clear()
    GATES.clear()


async def settled(docket: Docket, key: str) -> bool:
    execution = await docket.get_execution(key)
    return execution is not None and execution.state == ExecutionState.COMPLETED


def one_at_a_time(docket: Docket, **options: object) -> Worker:
    return fast_worker(docket, concurrency=1, **options)


async def test_higher_priority_starts_first(docket: Docket) -> None:
    """Added in the order 5, 5, 1, 9, 7, 2 before any worker runs, tasks start
    9, 7, then the 5s in their order, then 2, 1 (nobody waited long enough to age)."""
    docket.register(work)
    await docket.add(work)("a5")
    await docket.add(work)("b5")
    await docket.add(work, priority=1)("c1")
    await docket.add(work, priority=9)("d9")
    await docket.add(work, priority=7)("e7")
    await docket.add(work, priority=2)("f2")
    async with one_at_a_time(docket) as worker:
        await worker.run_until_finished()
    assert ORDER == ["d9", "e7", "a5", "b5", "f2", "c1"]


async def test_task_default_and_call_override(docket: Docket) -> None:
    """``Priority(2)`` as a parameter default places the task at 2; a call's
    ``priority=`` overrides it; inside the task the parameter holds the run's own
    priority."""
    docket.register(background)
    docket.register(seen_priority)
    await docket.add(background)("default-2")
    await docket.add(work)("plain-5")
    await docket.add(background, priority=8)("called-8")
    await docket.add(seen_priority)("own")
    await docket.add(seen_priority, priority=9)("given")
    async with one_at_a_time(docket) as worker:
        await worker.run_until_finished()
    assert ORDER == ["given:9", "called-8", "plain-5", "own:3", "default-2"]


async def test_add_many_with_priorities(docket: Docket) -> None:
    """``docket.call(..., priority=)`` carries the priority through ``add_many``."""
    docket.register(work)
    await docket.add_many(
        [
            docket.call(work)("mid"),
            docket.call(work, priority=1)("low"),
            docket.call(work, priority=9)("high"),
        ]
    )
    async with one_at_a_time(docket) as worker:
        await worker.run_until_finished()
    assert ORDER == ["high", "mid", "low"]


async def test_scheduled_task_keeps_its_priority(docket: Docket) -> None:
    """A task added for later at priority 9 goes to its lane when the scheduler's
    move finds it due, and starts before the priority-5 tasks already waiting."""
    docket.register(work)
    soon = datetime.now(timezone.utc) + timedelta(milliseconds=50)
    await docket.add(work, when=soon, priority=9)("later-9")
    for n in range(3):
        await docket.add(work)(f"now-{n}")
    await eventually(lambda: datetime.now(timezone.utc) > soon, timeout=2)
    moved = await docket.broker.queue.stream_due(soon.timestamp() + 0.001)
    assert moved.moved == 1
    assert await docket.broker.lanes.depths() == {9: 1}
    async with one_at_a_time(docket) as worker:
        await worker.run_until_finished()
    assert ORDER == ["later-9", "now-0", "now-1", "now-2"]


async def test_retry_keeps_the_priority(docket: Docket) -> None:
    """A retried attempt keeps its run's priority (its message carries it): it goes
    back to its lane, ahead of the priority-5 tasks (behind at most the one the
    worker had read ahead)."""
    docket.register(flaky)
    docket.register(work)
    FAILS_LEFT["x"] = 1
    await docket.add(flaky, priority=8)("x")
    for n in range(4):
        await docket.add(work)(f"p{n}")
    async with one_at_a_time(docket) as worker:
        await worker.run_until_finished()
    assert sorted(ORDER) == ["p0", "p1", "p2", "p3", "x"]
    assert ORDER.index("x") <= 1


async def test_perpetual_successor_keeps_a_given_priority(docket: Docket) -> None:
    """A Perpetual task added with ``priority=7`` schedules successors at 7."""
    docket.register(ticking)
    await docket.add(ticking, key="tick", priority=7)()
    async with one_at_a_time(docket) as worker:
        await worker.run_until_finished()
    assert ORDER == ["tick:7", "tick:7", "tick:7"]


async def test_cancel_and_replace_withdraw_a_lane_task(docket: Docket) -> None:
    """A task waiting on its lane is withdrawn by cancel, and replaced (at another
    priority) by replace: nothing runs twice, nothing cancelled runs."""
    docket.register(work)
    await docket.add(work, key="gone", priority=8)("gone")
    await docket.add(work, key="moved", priority=2)("moved-first")
    await docket.cancel("gone")
    now = datetime.now(timezone.utc)
    await docket.replace(work, now, "moved", priority=9)("moved-again")
    await docket.add(work)("plain")
    async with one_at_a_time(docket) as worker:
        await worker.run_until_finished()
    assert ORDER == ["moved-again", "plain"]
    assert await docket.broker.lanes.depths() == {}


async def test_clear_withdraws_lane_tasks(docket: Docket) -> None:
    """``docket.clear()`` withdraws tasks waiting on lanes too."""
    docket.register(work)
    await docket.add(work, priority=3)("three")
    await docket.add(work, priority=9)("nine")
    assert await docket.broker.lanes.depths() == {3: 1, 9: 1}
    await docket.clear()
    assert await docket.broker.lanes.depths() == {}
    async with one_at_a_time(docket) as worker:
        await worker.run_until_finished()
    assert ORDER == []


async def test_aging_lets_a_low_priority_start(docket: Docket) -> None:
    """With aging at 20 ms per level, a priority-1 task added first starts while a
    worker keeps receiving priority-9 tasks: it ranks ahead of every priority-9
    task added more than 8 levels (160 ms) after it. The first priority-9 task is
    added before the worker starts, so the first dispatch always sees one."""
    docket.register(work)
    await docket.add(work, priority=1)("low")
    await docket.add(work, priority=9)("high-first")

    async def feed() -> None:
        n = 0
        while "low" not in ORDER:
            await docket.add(work, priority=9)(f"high-{n}")
            n += 1
            await asyncio.sleep(0.005)

    async with one_at_a_time(docket, priority_aging=timedelta(milliseconds=20)) as w:
        feeding = asyncio.ensure_future(feed())
        running = asyncio.ensure_future(w.run_forever())
        try:
            await eventually(lambda: "low" in ORDER, timeout=10)
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            await feeding
    assert ORDER.index("low") > 0  # high ones went first for a while


async def test_idle_worker_starts_a_lane_task_at_once(docket: Docket) -> None:
    """A worker waiting on an empty stream starts a priority task as soon as it is
    added (the doorbell wakes its blocking read), not a check interval later."""
    docket.register(work)
    async with Worker(
        docket, concurrency=2, minimum_check_interval=timedelta(seconds=5)
    ) as worker:
        running = asyncio.ensure_future(worker.run_forever())
        try:
            await docket.add(work, key="first")("first")  # then the worker idles
            await eventually(lambda: settled(docket, "first"), timeout=5)
            started = asyncio.get_running_loop().time()
            await docket.add(work, priority=9)("urgent")
            await eventually(lambda: ORDER == ["first", "urgent"], timeout=5)
            assert asyncio.get_running_loop().time() - started < 2.0
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)


@pytest.mark.cluster_ok
async def test_a_dispatched_task_whose_worker_died_runs_once(docket: Docket) -> None:
    """A lane task dispatched to a worker that then dies (it never runs it) is
    taken up by another worker's redelivery sweep and runs exactly once: the other
    worker's reads of new messages pass its stream copy by, they do not run it."""
    docket.register(work)
    for label in ("a", "b", "c"):
        await docket.add(work)(label)
    await docket.add(work, priority=9)("urgent")
    dispatched, left = await docket.broker.lanes.dispatch("ghost", 5, 60.0, None)
    assert len(dispatched) == 1 and left == 0
    assert dispatched[0].fields[b"priority"] == b"9"
    async with Worker(
        docket,
        redelivery_timeout=timedelta(milliseconds=300),
        minimum_check_interval=timedelta(milliseconds=5),
    ) as worker:
        await worker.run_until_finished()
    assert sorted(ORDER) == ["a", "b", "c", "urgent"]


async def test_snapshot_shows_depth_per_priority(docket: Docket) -> None:
    """Docket.snapshot() counts lane tasks among its tasks (as queued, each with
    its priority) and gives the depth per priority only when more than one is
    present."""
    docket.register(work)
    await docket.add(work)("plain")
    assert (await docket.snapshot()).by_priority == {}
    await docket.add(work, key="urgent", priority=9)("urgent")
    snapshot = await docket.snapshot()
    assert snapshot.by_priority == {9: 1, 5: 1}
    assert snapshot.total_tasks == 2
    assert {e.key: e.priority for e in snapshot.future}["urgent"] == 9


async def test_a_concurrency_waiter_keeps_its_priority(docket: Docket) -> None:
    """A priority-9 task that waited for its ConcurrencyLimit slot goes to its
    lane when the slot frees, so it starts before most of the ten priority-5
    tasks queued while it waited (behind at most those the worker had read ahead
    before lanes were in use, up to its concurrency), not after all of them."""
    for task in (limited, held, brief):
        docket.register(task)
    GATES.update({name: asyncio.Event() for name in ("hold", "b1", "b2")})
    async with Worker(
        docket, concurrency=3, minimum_check_interval=timedelta(milliseconds=5)
    ) as worker:
        running = asyncio.ensure_future(worker.run_forever())
        try:
            await docket.add(limited, key="hold")("hold")
            await docket.add(held)("b1")
            await eventually(lambda: {"hold", "b1"} <= set(ORDER), timeout=5)
            await docket.add(limited, key="urgent", priority=9)("urgent")

            async def parked() -> bool:
                execution = await docket.get_execution("urgent")
                return execution is not None and (
                    execution.state == ExecutionState.SCHEDULED
                )

            await eventually(parked, timeout=5)  # waiting for the slot
            await docket.add(held)("b2")  # the worker's last slot
            await eventually(lambda: "b2" in ORDER, timeout=5)
            for n in range(10):
                await docket.add(brief)(f"p{n}")
            GATES["hold"].set()  # the slot frees: "urgent" is woken
            await eventually(lambda: "urgent" in ORDER and "p9" in ORDER, timeout=10)
        finally:
            for gate in GATES.values():
                gate.set()
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
    assert ORDER.index("urgent") < ORDER.index("p5"), ORDER


async def test_a_low_priority_dispatched_blind_waits_behind_new_stream_work(
    docket: Docket,
) -> None:
    """A worker whose last read found the stream empty dispatches lane tasks and
    reads the stream in the same round trip as a settle. When that read finds a
    priority-5 task added meanwhile, a priority-3 task the dispatch handed over
    starts after it, as it ranks, not first."""
    docket.register(held)
    docket.register(work)
    GATES["a"] = asyncio.Event()
    async with one_at_a_time(docket) as worker:
        running = asyncio.ensure_future(worker.run_forever())
        try:
            await docket.add(work)("warm")  # a short task turns reading ahead on
            await eventually(lambda: "warm" in ORDER, timeout=5)
            await docket.add(held)("a")  # the only slot; the stream is read empty
            await eventually(lambda: "a" in ORDER, timeout=5)
            await docket.add(work, priority=3)("low")
            await docket.add(work)("five")
            GATES["a"].set()  # its settle dispatches "low" and reads "five"
            await eventually(lambda: {"low", "five"} <= set(ORDER), timeout=5)
        finally:
            GATES["a"].set()
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
    assert ORDER == ["warm", "a", "five", "low"], ORDER


async def lane_members(docket: Docket, priority: int) -> list[str]:
    async with docket.redis() as client:
        found = await client.zrange(docket.key(f"lane:{priority}"), 0, -1)
    return [key.decode() for key in found]


async def gives_up(label: str) -> None:
    raise RuntimeError(f"{label} fails")


async def test_a_replayed_failed_task_keeps_its_priority(docket: Docket) -> None:
    """A priority-8 task that failed for good, replayed from the failed tasks (as
    ``docket failed replay`` and the dashboard do), goes back to its lane with its
    priority, not to the stream at 5."""
    docket.register(gives_up)
    await docket.add(gives_up, key="urgent-fail", priority=8)("x")
    async with one_at_a_time(docket) as worker:
        await worker.run_until_finished()
    assert await docket.failed_tasks.replay("urgent-fail") is Disposition.SCHEDULED
    assert await lane_members(docket, 8) == ["urgent-fail"]
    execution = await docket.get_execution("urgent-fail")
    assert execution is not None and execution.priority == 8


async def test_a_replayed_dead_letter_keeps_its_priority(docket: Docket) -> None:
    """A priority-7 task dead-lettered (its run record was overwritten by a
    string), replayed once mended, goes back to its lane with its priority."""
    docket.register(work)
    await docket.add(work, key="urgent-dead", priority=7)("d")
    async with docket.redis() as client:
        await client.set(docket.key("runs:urgent-dead"), "not a hash")
    async with one_at_a_time(docket) as worker:
        await worker.run_until_finished()
    (letter,) = await docket.dead_letters.list()
    async with docket.redis() as client:
        await client.delete(docket.key("runs:urgent-dead"))
    await docket.dead_letters.replay(letter.id)
    assert await lane_members(docket, 7) == ["urgent-dead"]
    async with one_at_a_time(docket) as worker:
        await worker.run_until_finished()
    assert ORDER == ["d"]


@pytest.mark.parametrize(
    ("stored", "kept"),
    [
        (b"8", b"8"),
        (b"1", b"1"),
        (b"5", None),
        (b"0", None),
        (b"12", None),
        (b"x", None),
    ],
)
def test_a_failed_entry_keeps_only_a_priority_a_task_may_carry(
    stored: bytes, kept: bytes | None
) -> None:
    """A failed-task entry's priority (written by anyone who can write to Redis)
    is kept for a replay only when it is 1 to 9 and not the default 5; anything
    else replays at 5 instead of making a message no worker would take."""
    fields = {"key": b"k", "function": b"f", "priority": stored}
    assert FailedTask.decode("1-0", fields).priority == kept


async def drain_lanes(
    docket: Docket, concurrency: int, lanes: list[tuple[int, str, int]]
) -> None:
    """For each (priority, prefix, count) in turn, ``count`` seen_priority tasks
    at that priority, labelled ``<prefix><n:02>``, all added at once; then a
    worker with ``concurrency`` slots runs them all."""
    docket.register(seen_priority)
    await docket.add_many(
        [
            docket.call(seen_priority, priority=priority)(f"{prefix}{n:02}")
            for priority, prefix, count in lanes
            for n in range(count)
        ]
    )
    async with fast_worker(docket, concurrency=concurrency) as worker:
        await worker.run_until_finished()


async def test_a_drain_starts_the_higher_priority_first(docket: Docket) -> None:
    """Draining 200 priority-7 and 200 priority-5 tasks at concurrency 10, a worker
    dispatches lane tasks in the same round trips that read the stream but reads
    nothing beside a dispatch that ranks against a known stream head and filled
    all it asked for: at most the one message read ahead before lanes were seen
    per slot starts before the last priority-7 task, not a batch per settle (185
    did before), however many settles the drain takes."""
    await drain_lanes(docket, 10, [(7, "h", 200), (5, "m", 200)])
    levels = [label.rsplit(":", 1)[1] for label in ORDER]
    last_seven = len(levels) - 1 - levels[::-1].index("7")
    early = levels[:last_seven].count("5")
    assert len(ORDER) == 400
    assert early <= 10, (early, levels)


async def test_a_dispatch_reads_lanes_a_chunk_at_a_time_in_order(
    docket: Docket,
) -> None:
    """A worker with 40 slots asks for 41 lane tasks at once; the lanes are read
    16 at a time as the merge goes, so all 30 priority-7 tasks start before any of
    the 30 priority-6 ones, and each lane's tasks start in the order added."""
    await drain_lanes(docket, 40, [(6, "s", 30), (7, "h", 30)])
    assert ORDER == [f"h{n:02}:7" for n in range(30)] + [
        f"s{n:02}:6" for n in range(30)
    ]
