"""docket's pytest plugin in use: memory_docket, docket_runner and the virtual
clock (docket_clock) moving scheduled tasks, Perpetual, Cron, retries and the
admission windows forward without sleeping. The tests taking the project's
``docket`` fixture also run on a real redis-server."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from typing import Annotated

import pytest

from docket import (
    ConcurrencyLimit,
    Cooldown,
    Cron,
    CurrentDocket,
    CurrentExecution,
    Debounce,
    Docket,
    Perpetual,
    RateLimit,
    Retry,
)
from docket import _clock as clock_module
from docket.contrib.pytest import DocketRunner, VirtualClock
from docket.execution import Execution

HOUR = timedelta(hours=1)
ran: list[tuple[str, datetime]] = []


@pytest.fixture(autouse=True)
def _forget() -> None:
    ran.clear()


def _moment() -> datetime:
    return clock_module.utcnow()


async def hourly(cron: Cron = Cron("0 * * * *", automatic=True)) -> None:
    ran.append(("hourly", _moment()))


async def step(name: str, execution: Execution = CurrentExecution()) -> None:
    assert _moment() == execution.when  # it runs at its own moment
    ran.append((name, execution.when))


async def ten_minutely(
    perpetual: Perpetual = Perpetual(every=timedelta(minutes=10)),
) -> None:
    ran.append(("tick", _moment()))


async def flaky(retry: Retry = Retry(attempts=3, delay=timedelta(minutes=5))) -> None:
    raise ValueError(f"attempt {retry.attempt}")


async def parent(docket: Docket = CurrentDocket()) -> None:
    ran.append(("parent", _moment()))
    await docket.add(child)("now")
    await docket.add(child, when=_moment() + HOUR)("later")


async def child(label: str) -> None:
    ran.append((label, _moment()))


async def test_memory_docket_is_a_fresh_open_docket(memory_docket: Docket) -> None:
    """memory_docket is opened on its own memory:// URL, named after no other."""
    assert memory_docket.name.startswith("test-")
    assert memory_docket.url == f"memory://{memory_docket.name}"
    await memory_docket.add(child)("x")
    assert len((await memory_docket.snapshot()).future) == 1


async def test_until_idle_runs_what_is_due_and_leaves_the_rest(
    memory_docket: Docket, docket_runner: DocketRunner
) -> None:
    """until_idle runs what is due and what that schedules for now, and returns
    at once, leaving a task due in an hour queued (real clock)."""
    await memory_docket.add(parent)()
    started = time.monotonic()
    await docket_runner.until_idle()
    assert time.monotonic() - started < 5
    assert [label for label, _ in ran] == ["parent", "now"]
    docket_runner.assert_ran(child, "now", times=1)
    docket_runner.assert_not_ran(child, "later")
    await docket_runner.assert_scheduled(child, "later")


async def test_a_day_of_hourly_cron_runs_in_under_a_second(
    memory_docket: Docket, docket_runner: DocketRunner, docket_clock: VirtualClock
) -> None:
    """The virtual clock fast-forwards a day of an hourly Cron: 24 runs, each on
    the hour, in well under a second of wall time."""
    memory_docket.register(hourly)
    start = docket_clock.now
    wall = time.perf_counter()
    await docket_clock.advance(hours=24)
    elapsed = time.perf_counter() - wall
    docket_runner.assert_ran(hourly, times=24)
    moments = [moment for _, moment in ran]
    assert all(m.minute == 0 and m.second == 0 for m in moments)
    assert moments == sorted(moments) and start < moments[0] <= start + HOUR
    assert docket_clock.now == start + timedelta(hours=24)
    assert elapsed < 1.0, f"a virtual day took {elapsed:.2f}s"


async def test_advance_runs_each_task_at_its_own_moment_in_order(
    memory_docket: Docket, docket_runner: DocketRunner, docket_clock: VirtualClock
) -> None:
    """Tasks due at +3h, +1h and +2h run in time order, each while the clock
    reads its due time; one due after the target stays scheduled."""
    t0 = docket_clock.now
    for hours in (3, 1, 2, 5):
        await memory_docket.add(step, when=t0 + hours * HOUR)(f"{hours}h")
    await docket_clock.advance(timedelta(hours=2), minutes=59)
    assert [label for label, _ in ran] == ["1h", "2h"]
    await docket_clock.advance(minutes=1)
    assert ran == [(f"{h}h", t0 + h * HOUR) for h in (1, 2, 3)]
    await docket_runner.assert_scheduled(step, "5h")


async def test_perpetual_runs_every_interval(
    memory_docket: Docket, docket_runner: DocketRunner, docket_clock: VirtualClock
) -> None:
    """A Perpetual every 10 minutes runs now and then six more times in an hour."""
    t0 = docket_clock.now
    await memory_docket.add(ten_minutely, key="ticker")()
    await docket_clock.advance(hours=1)
    assert [m for _, m in ran] == [t0 + timedelta(minutes=10 * n) for n in range(7)]
    await docket_runner.assert_scheduled(ten_minutely, key="ticker")


async def test_retries_wait_their_delay_on_the_virtual_clock(
    memory_docket: Docket, docket_runner: DocketRunner, docket_clock: VirtualClock
) -> None:
    """A failing task with Retry(delay=5 min) is retried only when the clock has
    moved 5 minutes, and gives up after its third attempt."""
    await memory_docket.add(flaky)()
    await docket_runner.until_idle()
    docket_runner.assert_failed(flaky, ValueError, times=1)
    await docket_clock.advance(minutes=4, seconds=59)
    docket_runner.assert_failed(flaky, ValueError, times=1)
    await docket_clock.advance(seconds=1)
    docket_runner.assert_failed(flaky, ValueError, times=2)
    await docket_clock.advance(hours=1)
    docket_runner.assert_ran(flaky, times=3)
    await docket_runner.assert_nothing_scheduled()


async def debounced(
    tenant: Annotated[str, Debounce(timedelta(minutes=1))], reason: str
) -> None:
    ran.append((f"{tenant}:{reason}", _moment()))


async def cooled(user: Annotated[str, Cooldown(timedelta(hours=1))]) -> None:
    ran.append((user, _moment()))


async def limited(
    user: Annotated[str, RateLimit(2, per=timedelta(minutes=1))],
) -> None:
    ran.append((user, _moment()))


async def test_debounce_settles_on_the_virtual_clock(docket: Docket) -> None:
    """Three submissions of one tenant settle for a virtual minute, then one runs
    (memory:// and Redis)."""
    async with DocketRunner(docket) as runner:
        with VirtualClock(runner) as clock:
            t0 = clock.now
            for reason in ("a", "b", "c"):
                await docket.add(debounced)("acme", reason)
            await runner.until_idle()
            assert ran == []
            await clock.advance(minutes=5)
            assert len(ran) == 1 and ran[0][0].startswith("acme:")
            assert ran[0][1] == t0 + timedelta(minutes=1)


async def test_a_cooldown_window_ends_on_the_virtual_clock(docket: Docket) -> None:
    """A one-hour Cooldown drops a second run at once and lets one through when the
    clock has moved an hour, though the window's key still lives in Redis (its
    end is a value the worker's clock reads)."""
    async with DocketRunner(docket) as runner:
        with VirtualClock(runner) as clock:
            await docket.add(cooled)("ann")
            await docket.add(cooled)("ann")
            await runner.until_idle()
            assert len(ran) == 1
            await clock.advance(minutes=59)
            await docket.add(cooled)("ann")
            await runner.until_idle()
            assert len(ran) == 1
            await clock.advance(minutes=1)
            await docket.add(cooled)("ann")
            await runner.until_idle()
            assert [user for user, _ in ran] == ["ann", "ann"]


async def test_a_rate_limit_window_slides_on_the_virtual_clock(docket: Docket) -> None:
    """RateLimit(2 per minute): the third start waits for the virtual minute."""
    async with DocketRunner(docket) as runner:
        with VirtualClock(runner) as clock:
            t0 = clock.now
            for _ in range(3):
                await docket.add(limited)("ann")
            await runner.until_idle()
            assert len(ran) == 2
            await clock.advance(minutes=2)
            assert [m for _, m in ran] == [t0, t0, t0 + timedelta(minutes=1)]


async def test_cron_from_a_chosen_start(docket: Docket) -> None:
    """A clock started at a chosen moment: a Monday 09:00 Cron runs twice in two
    weeks, each on a Monday at 09:00 (memory:// and Redis)."""

    async def weekly(cron: Cron = Cron("0 9 * * 1", automatic=True)) -> None:
        ran.append(("weekly", _moment()))

    docket.register(weekly)
    start = datetime(2030, 1, 1, tzinfo=timezone.utc)  # a Tuesday
    async with DocketRunner(docket) as runner:
        with VirtualClock(runner, start=start) as clock:
            await clock.advance(days=14)
    assert [m for _, m in ran] == [
        datetime(2030, 1, 7, 9, tzinfo=timezone.utc),
        datetime(2030, 1, 14, 9, tzinfo=timezone.utc),
    ]


async def test_run_until_finished_under_the_virtual_clock(
    memory_docket: Docket, docket_clock: VirtualClock
) -> None:
    """Under a virtual clock a plain Worker's run_until_finished returns once
    nothing is due, instead of waiting for a moment that never comes."""
    from docket import Worker

    await memory_docket.add(child)("now")
    await memory_docket.add(child, when=docket_clock.now + HOUR)("later")
    async with Worker(memory_docket) as worker:
        await worker.run_until_finished()
    assert [label for label, _ in ran] == ["now"]


async def test_the_clock_refuses_what_it_cannot_do(
    docket_runner: DocketRunner, docket_clock: VirtualClock
) -> None:
    """Backwards, naive datetimes and a second clock are clear errors."""
    with pytest.raises(ValueError, match="only moves forward"):
        await docket_clock.advance(minutes=-1)
    with pytest.raises(ValueError, match="only moves forward"):
        await docket_clock.advance_to(docket_clock.now - HOUR)
    with pytest.raises(TypeError, match="timezone-aware"):
        await docket_clock.advance_to(datetime(2030, 1, 1))
    with pytest.raises(RuntimeError, match="already in use"):
        with VirtualClock(docket_runner):
            pass
    assert not clock_module.is_real()  # the refused one left ours in place


async def test_the_real_clock_is_back_after_a_virtual_one(
    docket_runner: DocketRunner,
) -> None:
    """Leaving a VirtualClock puts the wall clock back."""
    with VirtualClock(docket_runner, start=datetime(2030, 1, 1, tzinfo=timezone.utc)):
        assert clock_module.utcnow().year == 2030
    assert clock_module.is_real()
    assert abs(clock_module.time() - time.time()) < 5


async def test_assertion_messages_list_what_ran(
    memory_docket: Docket, docket_runner: DocketRunner
) -> None:
    """A failed assertion names what was expected and lists the runs there were."""
    await memory_docket.add(child)("a")
    await memory_docket.add(flaky)()
    await docket_runner.until_idle()
    with pytest.raises(AssertionError) as caught:
        docket_runner.assert_ran(child, "b")
    message = str(caught.value)
    assert "Expected child('b') to run at least once; it ran 0 times" in message
    assert "Runs of child (1):\n  - child('a') due " in message
    with pytest.raises(AssertionError, match=r"it ran once"):
        docket_runner.assert_ran(child, times=2)
    with pytest.raises(AssertionError, match=r"not to run; it ran once"):
        docket_runner.assert_not_ran(child)
    with pytest.raises(AssertionError) as caught:
        docket_runner.assert_failed(flaky, KeyError)
    assert "Expected flaky to fail with KeyError at least once; it did 0 times" in str(
        caught.value
    )
    assert "FAILED (ValueError: attempt 1)" in str(caught.value)
    with pytest.raises(
        AssertionError, match="No runs of parent; what ran: child, flaky"
    ):
        docket_runner.assert_ran(parent)
    with pytest.raises(AssertionError, match="flaky"):
        await docket_runner.assert_nothing_scheduled()  # its retry waits
    await docket_runner.assert_not_scheduled(child)
    with pytest.raises(AssertionError, match="Task child not found"):
        await docket_runner.assert_scheduled(child)


async def test_until_idle_needs_the_runner_open(memory_docket: Docket) -> None:
    """A runner not entered says how to use it."""
    with pytest.raises(RuntimeError, match="async with DocketRunner"):
        await DocketRunner(memory_docket).until_idle()


async def forever_now(perpetual: Perpetual = Perpetual()) -> None:
    ran.append(("again", _moment()))


async def test_until_idle_stops_a_chain_that_never_lets_time_move(
    memory_docket: Docket, docket_runner: DocketRunner, docket_clock: VirtualClock
) -> None:
    """A Perpetual with no interval schedules itself for now forever: until_idle
    stops after max_runs with a clear error, and the runner goes on working."""
    await memory_docket.add(forever_now, key="loop")()
    with pytest.raises(RuntimeError, match="stopped after 50 runs"):
        await docket_runner.until_idle(max_runs=50)
    assert 50 <= len(ran) <= 60  # those in flight when it stopped finished
    await memory_docket.cancel("loop")
    await memory_docket.add(child)("after")
    await docket_runner.until_idle()
    docket_runner.assert_ran(child, "after", times=1)


async def one_at_a_time(n: int, limit: ConcurrencyLimit = ConcurrencyLimit(1)) -> None:
    ran.append((f"start-{n}", _moment()))
    await asyncio.sleep(0)  # let the others try the slot meanwhile
    ran.append((f"end-{n}", _moment()))


async def test_a_concurrency_limit_under_the_virtual_clock(docket: Docket) -> None:
    """ConcurrencyLimit(1): the waiters park and are woken as the slot frees, all
    within one until_idle, never two at once (memory:// and Redis)."""
    async with DocketRunner(docket) as runner:
        with VirtualClock(runner):
            for n in range(3):
                await docket.add(one_at_a_time)(n)
            await runner.until_idle()
    labels = [label for label, _ in ran]
    assert len(labels) == 6
    assert all(
        labels[i].startswith("start-") and labels[i + 1].startswith("end-")
        for i in range(0, 6, 2)
    ), labels
    runner.assert_ran(one_at_a_time, times=3)
