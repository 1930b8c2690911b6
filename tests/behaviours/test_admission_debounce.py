"""Debounce through a real Docket and Worker, on both backends."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Annotated

import pytest

from docket import Debounce, Docket, Execution, ExecutionState, Worker, _clock
from docket.contrib.pytest import DocketRunner, VirtualClock


async def drain(worker: Worker, timeout: float = 15) -> None:
    await asyncio.wait_for(worker.run_until_finished(), timeout)


async def final_states(executions: list[Execution]) -> list[ExecutionState]:
    for execution in executions:
        await execution.sync()
    return [execution.state for execution in executions]


async def test_debounce_runs_the_first_of_a_burst_once(docket: Docket, worker: Worker):
    """A burst of submissions runs once, with the first one's arguments, after settle."""
    ran: list[tuple[int, float]] = []

    async def refresh(
        n: int, debounce: Debounce = Debounce(timedelta(milliseconds=200))
    ):
        ran.append((n, time.monotonic()))

    added = time.monotonic()
    burst = [await docket.add(refresh)(n) for n in range(5)]
    await drain(worker)
    assert [n for n, _ in ran] == [0]
    assert ran[0][1] - added >= 0.2  # even the first waits for the burst to settle
    assert (
        await final_states(burst)
        == [ExecutionState.COMPLETED] + [ExecutionState.CANCELLED] * 4
    )


async def test_debounce_waits_for_the_burst_to_go_quiet(docket: Docket):
    """Submissions that keep arriving within settle keep postponing the single run,
    which comes exactly settle after the last one (on a virtual clock)."""
    ran: list[float] = []

    async def refresh(
        n: int, debounce: Debounce = Debounce(timedelta(milliseconds=400))
    ):
        ran.append(_clock.time())

    async with DocketRunner(docket) as runner:
        with VirtualClock(runner) as clock:
            await docket.add(refresh)(0)
            for n in range(1, 4):
                await clock.advance(milliseconds=100)  # a submission every 100 ms
                await docket.add(refresh)(n)
            last_submission = clock.time()
            await clock.advance(seconds=5)
    assert ran == [last_submission + 0.4]
    runner.assert_ran(refresh, 0, times=1)  # the first waited; the rest dropped


async def test_debounce_per_argument_value(docket: Docket, worker: Worker):
    """Annotated[int, Debounce(...)]: one run per customer for one burst each."""
    ran: list[int] = []

    async def sync_customer(
        customer: Annotated[int, Debounce(timedelta(milliseconds=100))], n: int
    ):
        ran.append(customer * 10 + n)

    for n in range(3):
        await docket.add(sync_customer)(1, n)
        await docket.add(sync_customer)(2, n)
    await drain(worker)
    assert sorted(ran) == [10, 20]


async def test_debounce_allows_one_per_task(docket: Docket) -> None:
    """Debounce is single: two on one task are refused at registration."""

    async def twice(
        a: Annotated[int, Debounce(timedelta(seconds=1))],
        b: Annotated[int, Debounce(timedelta(seconds=1))],
    ) -> None: ...

    with pytest.raises(ValueError, match="Only one Debounce dependency is allowed"):
        docket.register(twice)


async def test_a_lost_winner_is_replaced(docket: Docket):
    """If the waiting winner is cancelled, a later submission takes over and runs.

    Within 3 x settle + 1 s of the winner's last check submissions are still
    dropped (it might just be late); after that the next one wins. (A debounce
    key lives 10 x settle: long enough here, where the clock is virtual and the
    wait takes no real time.)
    """
    ran: list[int] = []

    async def refresh(n: int, debounce: Debounce = Debounce(timedelta(seconds=1))):
        ran.append(n)

    async def state_is(execution: Execution, state: ExecutionState) -> bool:
        return (await final_states([execution]))[0] is state

    async with docket.redis() as client, DocketRunner(docket) as runner:
        with VirtualClock(runner) as clock:
            winner = await docket.add(refresh, key="winner")(0)
            await runner.until_idle()
            assert await state_is(winner, ExecutionState.SCHEDULED)
            await docket.cancel("winner")  # it was waiting for the burst to settle
            await clock.advance(seconds=3.9)  # the winner stays away: 3 x 1 s + 1 s
            dropped = await docket.add(refresh)(1)
            await runner.until_idle()
            assert await state_is(dropped, ExecutionState.CANCELLED)
            assert len(await client.keys(f"{docket.name}:debounce:*:winner")) == 1
            await clock.advance(seconds=0.2)
            replacement = await docket.add(refresh)(2)
            await clock.advance(seconds=1)
            assert await state_is(replacement, ExecutionState.COMPLETED)
    assert ran == [2]
