"""ConcurrencyLimit through a real Docket and Worker, on both backends."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from typing import Annotated

import pytest

from docket import (
    ConcurrencyLimit,
    Docket,
    Execution,
    ExecutionState,
    Retry,
    Worker,
)
from tests._support.timings import FAST
from tests.conftest import eventually

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import ExceptionGroup


class Gauge:
    """Counts how many task bodies are inside at once, and the most ever seen."""

    def __init__(self) -> None:
        self.active = 0
        self.peak = 0
        self.started: list[object] = []

    def enter(self, label: object) -> None:
        self.active += 1
        self.peak = max(self.peak, self.active)
        self.started.append(label)

    def leave(self) -> None:
        self.active -= 1


async def states(executions: list[Execution]) -> list[ExecutionState]:
    for execution in executions:
        await execution.sync()
    return [execution.state for execution in executions]


async def concurrency_keys(docket: Docket) -> list[bytes]:
    async with docket.redis() as client:
        return sorted(await client.keys(f"{docket.prefix}*concurrency*"))


async def drain(worker: Worker, timeout: float = 15) -> None:
    await asyncio.wait_for(worker.run_until_finished(), timeout)


async def test_per_task_limit_holds_the_rest_until_slots_free(
    docket: Docket, worker: Worker
):
    """ConcurrencyLimit(max_concurrent=3): three run, the others park until one ends."""
    gauge, gate = Gauge(), asyncio.Event()

    async def job(n: int, limit: ConcurrencyLimit = ConcurrencyLimit(max_concurrent=3)):
        gauge.enter(n)
        await asyncio.wait_for(gate.wait(), 10)
        gauge.leave()

    executions = [await docket.add(job)(n) for n in range(8)]
    run = asyncio.ensure_future(worker.run_until_finished())
    await eventually(lambda: gauge.active == 3)
    await eventually(lambda: _count(states(executions), ExecutionState.SCHEDULED, 5))
    assert await concurrency_keys(docket) == [
        f"{docket.prefix}:concurrency:job".encode(),
        f"{docket.prefix}:concurrency:job:waiters".encode(),
    ]
    gate.set()
    await asyncio.wait_for(run, 15)
    assert gauge.peak == 3
    assert sorted(gauge.started) == list(range(8))  # type: ignore[type-var]
    assert set(await states(executions)) == {ExecutionState.COMPLETED}
    assert await concurrency_keys(docket) == []


async def _count(
    pending: asyncio.Future[list[ExecutionState]] | object,
    state: ExecutionState,
    expected: int,
) -> bool:
    values = await pending  # type: ignore[misc]
    return values.count(state) == expected


async def test_annotated_limit_is_per_argument_value(docket: Docket, worker: Worker):
    """Annotated[int, ConcurrencyLimit(1)]: one run per customer, customers overlap."""
    gauges = {1: Gauge(), 2: Gauge()}
    both_running = asyncio.Event()

    async def job(customer: Annotated[int, ConcurrencyLimit(1)], n: int) -> None:
        gauges[customer].enter(n)
        if gauges[1].active and gauges[2].active:
            both_running.set()
        await asyncio.wait_for(both_running.wait(), 5)
        gauges[customer].leave()

    for n in range(3):
        await docket.add(job)(1, n)
        await docket.add(job)(2, n)
    await drain(worker)
    assert [g.peak for g in gauges.values()] == [1, 1]
    assert [g.started for g in gauges.values()] == [[0, 1, 2], [0, 1, 2]]


async def test_legacy_form_groups_by_the_named_argument(docket: Docket, worker: Worker):
    """ConcurrencyLimit("customer_id", 1) as a default reads the call's argument."""
    gauge = Gauge()

    async def job(
        customer_id: str,
        n: int,
        limit: ConcurrencyLimit = ConcurrencyLimit("customer_id", max_concurrent=1),
    ) -> None:
        gauge.enter(n)
        await asyncio.sleep(0.01)  # the body's work, so runs would overlap if allowed
        gauge.leave()

    await docket.add(job)("a", 0)
    await docket.add(job)(customer_id="a", n=1)
    await docket.add(job)("a", n=2)
    await drain(worker)
    assert gauge.peak == 1
    assert gauge.started == [0, 1, 2]


async def test_missing_argument_fails_the_task_clearly(docket: Docket, worker: Worker):
    """A legacy limit naming an argument the call lacks fails with a ValueError."""

    async def job(
        other: int, limit: ConcurrencyLimit = ConcurrencyLimit("customer_id", 1)
    ) -> None:
        pass

    execution = await docket.add(job)(5)
    await drain(worker)
    with pytest.raises(ExceptionGroup) as raised:
        await execution.get_result(timeout=timedelta(seconds=5))
    (error,) = raised.value.exceptions
    assert isinstance(error, ValueError)
    assert str(error) == (
        "ConcurrencyLimit argument 'customer_id' not found in task arguments. "
        "Available: ['other']"
    )


async def test_scopes_share_a_slot_across_tasks(docket: Docket, worker: Worker):
    """Two tasks limiting the same argument in one scope share the slot key."""
    gauge = Gauge()
    keys: list[list[bytes]] = []

    async def first(account: Annotated[int, ConcurrencyLimit(1, scope="billing")]):
        gauge.enter("first")
        keys.append(await concurrency_keys(docket))
        await asyncio.sleep(0.01)
        gauge.leave()

    async def second(account: Annotated[int, ConcurrencyLimit(1, scope="billing")]):
        gauge.enter("second")
        await asyncio.sleep(0.01)
        gauge.leave()

    await docket.add(first)(7)
    await docket.add(second)(7)
    await drain(worker)
    assert gauge.peak == 1
    assert f"{docket.prefix}:billing:concurrency:account:7".encode() in keys[0]


async def test_waiters_run_first_in_first_out(docket: Docket, worker: Worker):
    """With one slot, parked executions run in the order they were added."""
    order: list[int] = []

    async def job(n: int, limit: ConcurrencyLimit = ConcurrencyLimit()) -> None:
        order.append(n)

    for n in range(10):
        await docket.add(job)(n)
    await drain(worker)
    assert order == list(range(10))


async def test_slots_are_released_on_failure_and_cancellation(
    docket: Docket, worker: Worker
):
    """A failed holder and a cancelled holder both let the next waiter run."""
    started = asyncio.Event()
    ran: list[str] = []

    async def job(label: str, limit: ConcurrencyLimit = ConcurrencyLimit()) -> None:
        ran.append(label)
        if label == "fails":
            raise RuntimeError("boom")
        if label == "hangs":
            started.set()
            await asyncio.sleep(60)  # until cancelled

    await docket.add(job, key="fails")("fails")
    await docket.add(job, key="hangs")("hangs")
    last = await docket.add(job, key="last")("last")
    run = asyncio.ensure_future(worker.run_until_finished())
    await asyncio.wait_for(started.wait(), 5)
    await docket.cancel("hangs")
    await asyncio.wait_for(run, 15)
    assert ran == ["fails", "hangs", "last"]
    assert await last.get_result(timeout=timedelta(seconds=1)) is None
    assert await concurrency_keys(docket) == []


async def test_retry_releases_the_slot_before_rescheduling(
    docket: Docket, worker: Worker
):
    """A failing attempt gives its slot back, so the retry and a waiter both finish."""
    attempts: list[tuple[str, int]] = []

    async def job(
        label: str,
        limit: ConcurrencyLimit = ConcurrencyLimit(),
        retry: Retry = Retry(attempts=2),
    ) -> str:
        attempts.append((label, retry.attempt))
        if label == "flaky" and retry.attempt == 1:
            raise RuntimeError("first attempt fails")
        return label

    flaky = await docket.add(job)("flaky")
    steady = await docket.add(job)("steady")
    await drain(worker)
    assert await flaky.get_result() == "flaky"
    assert await steady.get_result() == "steady"
    assert sorted(attempts) == [("flaky", 1), ("flaky", 2), ("steady", 1)]


async def test_worker_level_limit_applies_to_every_task(docket: Docket):
    """A worker-level ConcurrencyLimit(max_concurrent=1) serialises each task."""
    gauge = Gauge()

    async def job(n: int) -> None:
        gauge.enter(n)
        await asyncio.sleep(0.01)
        gauge.leave()

    for n in range(4):
        await docket.add(job)(n)
    async with Worker(
        docket,
        **FAST,
        dependencies=[ConcurrencyLimit(max_concurrent=1)],
    ) as worker:
        await drain(worker)
    assert gauge.peak == 1
    assert gauge.started == [0, 1, 2, 3]


def test_constructor_forms_and_bad_input() -> None:
    """The three forms, and clear errors for nonsense arguments."""
    assert ConcurrencyLimit(3).max_concurrent == 3
    assert ConcurrencyLimit(3).argument_name is None
    legacy = ConcurrencyLimit("customer_id", 2, "tenant")
    assert (legacy.argument_name, legacy.max_concurrent, legacy.scope) == (
        "customer_id",
        2,
        "tenant",
    )
    assert ConcurrencyLimit(max_concurrent=4).max_concurrent == 4
    with pytest.raises(ValueError, match="max_concurrent must be at least 1"):
        ConcurrencyLimit(0)
    with pytest.raises(TypeError, match="max_concurrent must be an int"):
        ConcurrencyLimit("customer_id", "2")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="argument_name must be a non-empty str"):
        ConcurrencyLimit(1.5)  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="scope must be a non-empty string"):
        ConcurrencyLimit(1, scope="")


async def test_entering_outside_a_worker_is_refused() -> None:
    """Admission controls only work inside a task run by a worker."""
    with pytest.raises(RuntimeError, match="only works inside a task"):
        await ConcurrencyLimit(1).__aenter__()
