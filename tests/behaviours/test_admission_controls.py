"""Cooldown and RateLimit, and combined controls, through a real Docket and Worker."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Annotated, Any

import pytest

from docket import (
    ConcurrencyLimit,
    Cooldown,
    Debounce,
    Docket,
    Execution,
    ExecutionState,
    RateLimit,
    Retry,
    Worker,
    _clock,
)
from docket.contrib.pytest import DocketRunner, VirtualClock
from tests._support.timings import FAST


async def drain(worker: Worker, timeout: float = 15) -> None:
    await asyncio.wait_for(worker.run_until_finished(), timeout)


async def final_states(executions: list[Execution]) -> list[ExecutionState]:
    for execution in executions:
        await execution.sync()
    return [execution.state for execution in executions]


# ---- Cooldown -------------------------------------------------------------------


async def test_cooldown_runs_the_first_and_drops_the_rest(
    docket: Docket, worker: Worker
):
    """Within the window only the first execution runs; the others are CANCELLED."""
    ran: list[int] = []

    async def ping(n: int, cooldown: Cooldown = Cooldown(timedelta(minutes=1))):
        ran.append(n)

    executions = [await docket.add(ping)(n) for n in range(3)]
    await drain(worker)
    assert ran == [0]
    assert await final_states(executions) == [
        ExecutionState.COMPLETED,
        ExecutionState.CANCELLED,
        ExecutionState.CANCELLED,
    ]


async def test_cooldown_window_expires(docket: Docket, worker: Worker):
    """After the window has passed, the next execution runs again."""
    ran: list[int] = []

    async def ping(n: int, cooldown: Cooldown = Cooldown(timedelta(milliseconds=500))):
        ran.append(n)

    await docket.add(ping)(0)
    await docket.add(ping)(1)
    await drain(worker)
    started = time.monotonic()
    while time.monotonic() - started < 0.6:  # the scenario: let the window pass
        await asyncio.sleep(0.05)
    await docket.add(ping)(2)
    await drain(worker)
    assert ran == [0, 2]


async def test_several_cooldowns_must_all_pass(docket: Docket, worker: Worker):
    """Cooldowns on two parameters: a call runs only if neither value is cooling down."""
    ran: list[tuple[str, str]] = []

    async def notify(
        user: Annotated[str, Cooldown(timedelta(minutes=1))],
        channel: Annotated[str, Cooldown(timedelta(minutes=1))],
    ):
        ran.append((user, channel))

    # One at a time: checked at once, two calls could race for a shared window.
    for call in [("ann", "email"), ("ann", "sms"), ("bob", "email"), ("bob", "sms")]:
        await docket.add(notify)(*call)  # ann, then email, are cooling down
        await drain(worker)
    assert ran == [("ann", "email"), ("bob", "sms")]


# ---- RateLimit ------------------------------------------------------------------


async def test_rate_limit_reschedules_to_when_a_slot_opens(docket: Docket):
    """RateLimit(2, per=300 ms): every run happens, two at each moment a slot
    opens: exactly a window apart (on a virtual clock)."""
    starts: list[float] = []

    async def call_api(
        n: int, limit: RateLimit = RateLimit(2, per=timedelta(milliseconds=300))
    ):
        starts.append(_clock.time())

    async with DocketRunner(docket) as runner:
        with VirtualClock(runner) as clock:
            t0 = clock.time()
            executions = [await docket.add(call_api)(n) for n in range(6)]
            await clock.advance(seconds=2)
    assert set(await final_states(executions)) == {ExecutionState.COMPLETED}
    assert [round(s - t0, 3) for s in starts] == [0, 0, 0.3, 0.3, 0.6, 0.6]


async def test_rate_limit_drop_cancels_the_excess(docket: Docket, worker: Worker):
    """With drop=True, executions over the limit end CANCELLED instead of waiting."""
    ran: list[int] = []

    async def call_api(
        n: int, limit: RateLimit = RateLimit(2, per=timedelta(minutes=1), drop=True)
    ):
        ran.append(n)

    executions = [await docket.add(call_api)(n) for n in range(4)]
    await drain(worker)
    assert ran == [0, 1]
    assert (
        await final_states(executions)
        == [ExecutionState.COMPLETED] * 2 + [ExecutionState.CANCELLED] * 2
    )


async def test_rate_limit_per_argument_value(docket: Docket, worker: Worker):
    """Annotated[str, RateLimit(...)]: each tenant has its own window."""
    ran: list[str] = []

    async def sync(
        tenant: Annotated[str, RateLimit(1, per=timedelta(minutes=1), drop=True)],
    ):
        ran.append(tenant)

    for tenant in ("a", "b", "a", "b"):
        await docket.add(sync)(tenant)
    await drain(worker)
    assert ran == ["a", "b"]


async def test_failed_runs_still_count(docket: Docket, worker: Worker):
    """A start that fails has used its place in the window; the retry is dropped."""
    attempts: list[int] = []

    async def flaky(
        limit: RateLimit = RateLimit(1, per=timedelta(minutes=1), drop=True),
        retry: Retry = Retry(attempts=3),
    ) -> None:
        attempts.append(retry.attempt)
        raise RuntimeError("always fails")

    execution = await docket.add(flaky)()
    await drain(worker)
    assert attempts == [1]
    await execution.sync()
    assert execution.state is ExecutionState.CANCELLED


async def test_a_start_is_given_back_when_another_control_blocks(
    docket: Docket, worker: Worker
):
    """RateLimit admits, then a Cooldown drops: the rate-limit start is not used up."""
    ran: list[int] = []

    async def job(
        customer: Annotated[int, Cooldown(timedelta(minutes=1))],
        limit: RateLimit = RateLimit(2, per=timedelta(minutes=1), drop=True),
    ):
        ran.append(customer)

    await docket.add(job)(1)
    await docket.add(job)(1)  # admitted by the rate limit, dropped by the cooldown
    await drain(worker)
    await docket.add(job)(2)  # so this one still fits in the rate limit
    await drain(worker)
    assert ran == [1, 2]


async def test_worker_and_task_rate_limits_coexist(docket: Docket):
    """A worker-level RateLimit and a task's own both apply."""
    ran: list[int] = []

    async def job(n: int, limit: RateLimit = RateLimit(5, per=timedelta(minutes=1))):
        ran.append(n)

    for n in range(4):
        await docket.add(job)(n)
    async with Worker(
        docket,
        **FAST,
        dependencies=[RateLimit(2, per=timedelta(minutes=1), drop=True)],
    ) as worker:
        await drain(worker)
    assert ran == [0, 1]


async def test_all_controls_on_one_task(docket: Docket, worker: Worker):
    """ConcurrencyLimit, Cooldown, Debounce and RateLimit combined: all must pass."""
    ran: list[tuple[int, int]] = []
    inside = 0

    async def job(
        customer: Annotated[int, Cooldown(timedelta(minutes=1))],
        n: int,
        debounce: Debounce = Debounce(timedelta(milliseconds=50)),
        limit: RateLimit = RateLimit(10, per=timedelta(minutes=1)),
        concurrency: ConcurrencyLimit = ConcurrencyLimit(max_concurrent=1),
    ):
        nonlocal inside
        inside += 1
        assert inside == 1
        ran.append((customer, n))
        inside -= 1

    await docket.add(job)(1, 0)
    await docket.add(job)(1, 1)  # dropped by the debounce
    await drain(worker)
    await docket.add(job)(1, 2)  # dropped by the cooldown, after the debounce
    await docket.add(job)(2, 3)  # same debounce burst as the one above: dropped
    await drain(worker)
    assert ran == [(1, 0)]


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda: Debounce(timedelta(0)), ValueError, "settle must be a positive"),
        (lambda: Debounce(5), TypeError, "settle must be a timedelta"),
        (
            lambda: Cooldown(timedelta(seconds=-1)),
            ValueError,
            "window must be a positive",
        ),
        (lambda: Cooldown(timedelta(seconds=1), scope=""), ValueError, "scope must be"),
        (
            lambda: RateLimit(0, per=timedelta(seconds=1)),
            ValueError,
            "limit must be at least 1",
        ),
        (
            lambda: RateLimit(1.5, per=timedelta(seconds=1)),
            TypeError,
            "limit must be an int",
        ),
        (lambda: RateLimit(1, per=timedelta(0)), ValueError, "per must be a positive"),
        (
            lambda: RateLimit(1, per=timedelta(seconds=1), drop="yes"),
            TypeError,
            "drop must be a bool",
        ),
    ],
)
def test_bad_arguments_are_refused(build: Any, error: type[Exception], message: str):
    """Nonsense windows, limits and flags raise clear errors at construction."""
    with pytest.raises(error, match=message):
        build()


@pytest.mark.parametrize(
    "control",
    [
        Debounce(timedelta(seconds=1)),
        Cooldown(timedelta(seconds=1)),
        RateLimit(1, per=timedelta(seconds=1)),
    ],
)
async def test_controls_only_work_inside_a_worker(control: Any):
    """Entering a control outside a task run by a worker is a clear RuntimeError."""
    with pytest.raises(RuntimeError, match="only works inside a task"):
        await control.__aenter__()


def test_controls_are_available_and_keep_their_single_flags() -> None:
    """The four admission classes are available; ConcurrencyLimit and Debounce are single."""
    for cls in (ConcurrencyLimit, Debounce, Cooldown, RateLimit):
        assert cls.available is True
    assert (ConcurrencyLimit.single, Debounce.single) == (True, True)
    assert (Cooldown.single, RateLimit.single) == (False, False)
