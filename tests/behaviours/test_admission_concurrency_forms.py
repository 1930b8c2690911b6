"""ConcurrencyLimit as pydocket code declares it: ``Annotated`` forms, the slot key
it exposes, and recovery from holders that died without releasing."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Annotated

import pytest

from docket import ConcurrencyLimit, Docket, Worker
from tests._support.timings import FAST


class Gauge:
    def __init__(self) -> None:
        self.active: dict[object, int] = {}
        self.peak: dict[object, int] = {}

    async def hold(self, group: object, seconds: float) -> None:
        self.active[group] = self.active.get(group, 0) + 1
        self.peak[group] = max(self.peak.get(group, 0), self.active[group])
        await asyncio.sleep(seconds)
        self.active[group] -= 1


async def test_annotated_limit_naming_another_argument_groups_by_it(
    docket: Docket, worker: Worker
):
    """``task_id: Annotated[int, ConcurrencyLimit("db_name", 2)]`` limits per
    ``db_name``: five calls for one database run at most two at a time."""
    gauge = Gauge()

    async def query(
        db_name: str,
        task_id: Annotated[int, ConcurrencyLimit("db_name", max_concurrent=2)],
    ) -> None:
        await gauge.hold(db_name, 0.05)

    for i in range(5):
        await docket.add(query)(db_name="postgres", task_id=i)
    await docket.add(query)("mysql", 99)
    await asyncio.wait_for(worker.run_until_finished(), 15)
    assert gauge.peak == {"postgres": 2, "mysql": 1}
    async with docket.redis() as client:
        assert await client.keys(f"{docket.prefix}:concurrency:*") == []


async def test_annotated_limit_groups_by_its_own_parameter(
    docket: Docket, worker: Worker
):
    """``customer_id: Annotated[int, ConcurrencyLimit(1)]`` serialises per customer,
    whether the argument is passed by keyword or by position."""
    gauge = Gauge()

    async def bill(customer_id: Annotated[int, ConcurrencyLimit(1)]) -> None:
        await gauge.hold(customer_id, 0.03)

    for _ in range(3):
        await docket.add(bill)(customer_id=1)
        await docket.add(bill)(2)
    await asyncio.wait_for(worker.run_until_finished(), 15)
    assert gauge.peak == {1: 1, 2: 1}


async def test_the_entered_limit_exposes_its_slot_key(docket: Docket, worker: Worker):
    """Inside the task the limit's ``concurrency_key`` is the slot key it holds; a
    declaration that never ran says it is not initialized."""
    seen: list[str] = []
    declaration = ConcurrencyLimit("customer_id", max_concurrent=1)

    async def task(customer_id: int, limit: ConcurrencyLimit = declaration) -> None:
        seen.append(limit.concurrency_key)

    await docket.add(task)(customer_id=7)
    await worker.run_until_finished()
    assert seen == [f"{docket.prefix}:concurrency:customer_id:7"]
    with pytest.raises(RuntimeError, match="not initialized"):
        _ = declaration.concurrency_key
    with pytest.raises(RuntimeError, match="not initialized"):
        _ = ConcurrencyLimit(max_concurrent=3).concurrency_key


async def test_a_full_limit_scavenges_one_stale_holder(docket: Docket, worker: Worker):
    """Holders that stopped renewing long ago fill the limit: a new execution evicts
    just one of them and runs; the other stays until it is needed."""
    ran: list[int] = []

    async def task(
        customer_id: int,
        limit: ConcurrencyLimit = ConcurrencyLimit("customer_id", max_concurrent=2),
    ) -> None:
        ran.append(customer_id)

    slot = f"{docket.prefix}:concurrency:customer_id:123"
    stale = time.time() - 400  # older than the 300 s redelivery timeout
    async with docket.redis() as client:
        await client.zadd(slot, {"dead-1": stale, "dead-2": stale})
    await docket.add(task)(customer_id=123)
    await asyncio.wait_for(worker.run_until_finished(), 10)
    assert ran == [123]
    async with docket.redis() as client:
        remaining = await client.zrange(slot, 0, -1)
    assert len(remaining) == 1 and remaining[0] in (b"dead-1", b"dead-2")


async def test_safeguard_wakes_a_waiter_whose_only_holder_died(docket: Docket):
    """The only holder stopped renewing without releasing (its worker died) while a
    waiter was parked: the waiter's safeguard evicts it and the waiter runs."""
    ran: list[str] = []

    async def task(limit: ConcurrencyLimit = ConcurrencyLimit(max_concurrent=1)):
        ran.append("waiter")

    slot = f"{docket.prefix}:concurrency:task"
    async with docket.redis() as client:
        await client.zadd(slot, {"holder": time.time()})  # fresh when the waiter parks
        await client.hset(
            docket.runs_key("holder"), mapping={"state": "running", "generation": "1"}
        )
    await docket.add(task, key="waiter")()
    started = time.monotonic()
    async with Worker(docket, redelivery_timeout=timedelta(seconds=1), **FAST) as w:
        await asyncio.wait_for(w.run_until_finished(), 15)
    assert ran == ["waiter"]
    assert time.monotonic() - started >= 0.9  # it waited for the safeguard
    async with docket.redis() as client:
        assert await client.zrange(slot, 0, -1) == []
        assert await client.exists(f"{slot}:waiters") == 0
