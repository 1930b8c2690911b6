"""Groups, chains and ``Parents()``: the shapes built on ``after=``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from docket import Docket, Execution, ExecutionState, Parents, Worker
from docket.dependencies import Parents as DependencyParents
from tests._support.timings import FAST

seen: dict[str, object] = {}


async def double(x: int) -> int:
    return x * 2


async def boom() -> int:
    raise ValueError("boom")


async def total(parents: dict[str, Execution] = Parents()) -> int:
    results = [await e.get_result() for e in parents.values()]
    seen["parents"] = sorted(parents)
    seen["total"] = sum(results)
    return sum(results)


async def inspect_failure(parents: dict[str, Execution] = Parents()) -> None:
    for key, execution in parents.items():
        try:
            await execution.get_result()
        except ValueError as error:
            seen[key] = str(error)
        else:
            seen[key] = "ok"


async def lonely(parents: dict[str, Execution] = Parents()) -> None:
    seen["lonely"] = parents


async def record(label: str) -> str:
    seen.setdefault("order", [])
    order = seen["order"]
    assert isinstance(order, list)
    order.append(label)  # pyright: ignore[reportUnknownMemberType]
    return label


@pytest.fixture(autouse=True)
def _tasks(docket: Docket) -> None:
    seen.clear()
    for task in (double, boom, total, inspect_failure, lonely, record):
        docket.register(task)


async def run(docket: Docket) -> None:
    async with Worker(docket, **FAST) as worker:
        await worker.run_until_finished()


def test_parents_is_importable_from_both_homes():
    """``Parents`` is one dependency, importable from docket and docket.dependencies."""
    assert Parents is DependencyParents


async def test_a_group_fans_in_to_a_follower_that_reads_every_result(docket: Docket):
    """A follower added after a group waits for every member, and Parents() gives
    it each member's execution, results readable."""
    async with docket.group("ingest") as g:
        for n in range(5):
            await g.add(double, key=f"chunk-{n}")(n)
    final = await docket.add(total, key="final", after=g)()
    assert final.state is ExecutionState.WAITING
    await run(docket)
    assert seen["parents"] == [f"chunk-{n}" for n in range(5)]
    assert seen["total"] == 20
    assert await final.get_result(timeout=timedelta(seconds=5)) == 20


async def test_a_group_still_open_cannot_be_waited_for(docket: Docket):
    """after= a group whose block has not ended is refused (it could still grow);
    adding members outside the block is refused too."""
    async with docket.group("open") as g:
        await g.add(double, key="m")(1)
        with pytest.raises(RuntimeError, match="still open"):
            docket.add(total, key="early", after=g)
    with pytest.raises(RuntimeError, match="not open"):
        g.add(double)
    assert [e.key for e in g.members] == ["m"]


async def test_a_chain_runs_each_call_after_the_one_before(docket: Docket):
    """chain() adds its calls so each waits for the previous one, and returns
    their executions in order."""
    steps = await docket.chain(
        docket.call(record)("one"),
        docket.call(record)("two"),
        docket.call(record)("three"),
    )
    assert [s.state for s in steps] == [
        ExecutionState.QUEUED,
        ExecutionState.WAITING,
        ExecutionState.WAITING,
    ]
    await run(docket)
    assert seen["order"] == ["one", "two", "three"]


async def test_a_failed_parents_result_raises_its_exception(docket: Docket):
    """Under on_parent_failure="run", Parents() gives the failed parent too, and its
    get_result() raises the exception it failed with."""
    await docket.add(boom, key="bad")()
    await docket.add(double, key="good")(1)
    await docket.add(
        inspect_failure, key="look", after=["bad", "good"], on_parent_failure="run"
    )()
    await run(docket)
    assert seen == {"bad": "boom", "good": "ok"}


async def test_a_task_without_after_has_no_parents(docket: Docket):
    """Parents() is empty for a task added without after=."""
    await docket.add(lonely)()
    await run(docket)
    assert seen["lonely"] == {}


async def test_a_chain_stops_at_a_failure(docket: Docket):
    """With the default policy a failed step cancels every step after it."""
    steps = await docket.chain(
        docket.call(boom)(), docket.call(record)("never"), docket.call(record)("nor")
    )
    await run(docket)
    assert "order" not in seen
    for step in steps[1:]:
        execution = await docket.get_execution(step.key)
        assert execution is not None and execution.state is ExecutionState.CANCELLED


async def test_a_signed_docket_fans_in(docket_url: str, docket_name: str):
    """With signing on, a released follower's message verifies like any other."""
    async with Docket(
        name=docket_name, url=docket_url, signing_keys=["k" * 32]
    ) as signed:
        signed.register(double)
        signed.register(total)
        async with signed.group("signed") as g:
            for n in range(3):
                await g.add(double, key=f"s-{n}")(n)
        final = await signed.add(total, key="signed-final", after=g)()
        async with Worker(signed, **FAST) as worker:
            await worker.run_until_finished()
        assert await final.get_result(timeout=timedelta(seconds=5)) == 6


async def test_a_parent_struck_at_the_worker_ends_cancelled(docket: Docket):
    """A parent a worker refuses under a strike ends CANCELLED, which cancels its
    follower under the default policy (and releases it under "run")."""
    await docket.add(double, key="struck-parent")(1)
    await docket.add(record, key="cancelled-follower", after="struck-parent")("no")
    await docket.add(
        record, key="run-follower", after="struck-parent", on_parent_failure="run"
    )("yes")
    await docket.strike("double")
    await run(docket)
    assert seen["order"] == ["yes"]
    follower = await docket.get_execution("cancelled-follower")
    assert follower is not None and follower.state is ExecutionState.CANCELLED
