"""Strikes through a real Docket and Worker, on both backends."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from docket import Disposition, Docket, ExecutionState, Worker
from tests.conftest import eventually

RAN: list[tuple[str, Any]] = []


async def charge(customer: int, region: str = "eu") -> None:
    """A task with a defaulted parameter."""
    RAN.append(("charge", customer))


async def refund(customer: int) -> None:
    """Another task sharing the customer parameter."""
    RAN.append(("refund", customer))


@pytest.fixture(autouse=True)
def fresh_log() -> None:
    RAN.clear()


async def drain(worker: Worker) -> None:
    await asyncio.wait_for(worker.run_until_finished(), 10)


async def test_striking_a_whole_task_blocks_adds_until_restored(
    docket: Docket, worker: Worker
):
    """strike(task): add returns STRUCK and writes nothing; restore lets it run."""
    await docket.strike(charge)
    struck = await docket.add(charge, key="c-1")(1)
    assert struck.disposition is Disposition.STRUCK
    assert await docket.get_execution("c-1") is None
    other = await docket.add(refund)(1)
    assert other.disposition is Disposition.SCHEDULED

    await docket.restore(charge)
    placed = await docket.add(charge, key="c-1")(1)
    assert placed.disposition is Disposition.SCHEDULED
    await drain(worker)
    assert sorted(RAN) == [("charge", 1), ("refund", 1)]


async def test_work_queued_before_a_strike_is_cancelled_at_the_worker(
    docket: Docket, worker: Worker
):
    """A task already waiting when the strike lands is CANCELLED when it would run."""
    now = await docket.add(charge, key="now")(1)
    later = await docket.add(
        charge,
        when=datetime.now(timezone.utc) + timedelta(milliseconds=50),
        key="later",
    )(2)
    await docket.strike("charge")
    await drain(worker)
    assert RAN == []
    for execution in (now, later):
        await execution.sync()
        assert execution.state is ExecutionState.CANCELLED
    await docket.restore("charge")  # restoring does not bring discarded work back
    await drain(worker)
    assert RAN == []


MATCHING = [
    ("==", 5, 5, 6),
    ("!=", 5, 6, 5),
    (">", 5, 6, 5),
    (">=", 5, 5, 4),
    ("<", 5, 4, 5),
    ("<=", 5, 5, 6),
    ("between", (3, 5), 3, 6),
    ("between", (3, 5), 5, 2),
]


@pytest.mark.parametrize("operator, value, struck_arg, free_arg", MATCHING)
async def test_parameter_strikes_for_every_task(
    docket: Docket,
    worker: Worker,
    operator: Any,
    value: Any,
    struck_arg: int,
    free_arg: int,
):
    """strike(None, "customer", op, value) applies `customer <op> value` to every task."""
    await docket.strike(None, "customer", operator, value)
    assert (await docket.add(charge)(struck_arg)).disposition is Disposition.STRUCK
    assert (await docket.add(refund)(struck_arg)).disposition is Disposition.STRUCK
    await docket.add(charge)(free_arg)
    await drain(worker)
    assert RAN == [("charge", free_arg)]

    await docket.restore(None, "customer", operator, value)
    await docket.add(refund)(struck_arg)
    await drain(worker)
    assert RAN == [("charge", free_arg), ("refund", struck_arg)]


async def test_a_parameter_strike_of_one_task_spares_the_others(
    docket: Docket, worker: Worker
):
    """strike(charge, "customer", "==", 7) leaves refund(7) alone."""
    await docket.strike(charge, "customer", "==", 7)
    assert (await docket.add(charge)(7)).disposition is Disposition.STRUCK
    await docket.add(refund)(7)
    await docket.add(charge)(8)
    await drain(worker)
    assert sorted(RAN) == [("charge", 8), ("refund", 7)]


async def test_defaults_count_as_arguments(docket: Docket, worker: Worker):
    """A strike on a defaulted parameter matches calls that leave it out."""
    await docket.strike("charge", "region", "==", "eu")
    assert (await docket.add(charge)(1)).disposition is Disposition.STRUCK
    await docket.add(charge)(2, region="us")
    await drain(worker)
    assert RAN == [("charge", 2)]


async def test_another_docket_object_sees_the_strike(docket: Docket):
    """A second Docket with the same name and URL follows the strike stream."""
    async with Docket(name=docket.name, url=docket.url) as other:
        await other.wait_for_strikes_loaded()
        await docket.strike(refund, "customer", ">", 100)

        async def follows() -> bool:
            execution = await other.add(refund)(101)
            return execution.disposition is Disposition.STRUCK

        await eventually(follows, timeout=2)
        assert (await other.add(refund)(100)).disposition is Disposition.SCHEDULED


@pytest.mark.parametrize(
    "arguments, message",
    [
        (("charge", "customer", "~=", 1), "Unknown strike operator '~='"),
        (
            ("charge", "customer", "between", 5),
            "'between' needs a \\(low, high\\) tuple",
        ),
        (("charge", "customer", "between", (9, 1)), "'between' needs low <= high"),
        ((None, None, "==", None), "A strike needs a function, a parameter, or both"),
    ],
)
async def test_bad_strikes_raise_clear_errors(
    docket: Docket, arguments: tuple[Any, ...], message: str
):
    """Unknown operators and malformed ranges raise ValueError at once."""
    with pytest.raises(ValueError, match=message):
        await docket.strike(*arguments)
    with pytest.raises(ValueError, match=message):
        await docket.restore(*arguments)
    assert docket.strike_list.task_strikes == {}
    assert docket.strike_list.parameter_strikes == {}


async def test_a_restore_is_never_undone_by_the_strike_before_it(docket: Docket):
    """Strike then restore at once, many times: the next add is never struck.

    The monitor may still be reading the strike when the restore is applied; the
    log is applied in order and once, so it cannot bring the strike back.
    """
    for round_ in range(30):
        await docket.strike(refund, "customer", "==", round_)
        await docket.restore(refund, "customer", "==", round_)
        execution = await docket.add(refund)(round_)
        assert execution.disposition is Disposition.SCHEDULED, round_
    await eventually(lambda: docket.strike_list.task_strikes == {})


async def test_entries_read_before_a_restore_are_not_applied_after_it(docket: Docket):
    """A monitor read that arrives late (holding the strike) cannot undo the restore."""
    strikes = docket.strike_list
    await strikes.wait_for_strikes_loaded()
    await docket.strike(refund)
    async with docket.redis() as client:
        late = [
            (i.decode(), fields)
            for i, fields in await client.xrange(strikes.strike_key)
        ]
    await docket.restore(refund)
    strikes._apply_entries(late)  # what a lagging monitor would deliver now
    assert "refund" not in strikes.struck_functions
    assert (await docket.add(refund)(1)).disposition is Disposition.SCHEDULED
