"""Debounce through a real Docket and Worker (spec 5.15), on both backends."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Annotated

import pytest

from docket import Debounce, Docket, Execution, ExecutionState, Worker
from tests.conftest import eventually


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


async def test_debounce_waits_for_the_burst_to_go_quiet(docket: Docket, worker: Worker):
    """Submissions that keep arriving within settle keep postponing the single run."""
    ran: list[float] = []

    async def refresh(
        n: int, debounce: Debounce = Debounce(timedelta(milliseconds=400))
    ):
        ran.append(time.monotonic())

    run = asyncio.ensure_future(worker.run_until_finished())
    await docket.add(refresh)(0)
    for n in range(1, 4):
        await asyncio.sleep(0.1)  # the scenario: a submission every 100 ms
        await docket.add(refresh)(n)
    last_submission = time.monotonic()
    await asyncio.wait_for(run, 15)
    assert len(ran) == 1
    assert ran[0] - last_submission >= 0.4 - 0.02


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


async def test_a_lost_winner_is_replaced(docket: Docket, worker: Worker):
    """If the waiting winner is cancelled, a later submission takes over and runs.

    Within 3 x settle + 1 s of the winner's last check submissions are still
    dropped (it might just be late); after that the next one wins.
    """
    ran: list[int] = []

    async def refresh(
        n: int, debounce: Debounce = Debounce(timedelta(milliseconds=20))
    ):
        ran.append(n)

    async def state_is(execution: Execution, state: ExecutionState) -> bool:
        return (await final_states([execution]))[0] is state

    async with docket.redis() as client:
        winner = await docket.add(refresh, key="winner")(0)
        run = asyncio.ensure_future(worker.run_forever())
        await eventually(lambda: state_is(winner, ExecutionState.SCHEDULED))
        await docket.cancel("winner")  # it was waiting for the burst to settle
        dropped = await docket.add(refresh)(1)
        await eventually(lambda: state_is(dropped, ExecutionState.CANCELLED))
        assert len(await client.keys(f"{docket.name}:debounce:*:winner")) == 1
        lost_after = time.monotonic() + 3 * 0.02 + 1.0
        while time.monotonic() < lost_after:  # the scenario: the winner stays away
            await asyncio.sleep(0.05)
        replacement = await docket.add(refresh)(2)
        await eventually(lambda: state_is(replacement, ExecutionState.COMPLETED))
        run.cancel()
        await run
    assert ran == [2]
