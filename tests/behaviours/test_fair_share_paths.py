"""The other ways a FairShare task becomes due, through a real Docket and Worker on
both backends: a follower released by its parents (after=) or its signal, and a failed task
replayed from the failed tasks each wait in their value's backlog, like a fresh add,
and run once; the release window is the sum over the workers serving the task."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

import pytest

import docket.execution as execution_module
from docket import Disposition, Docket, FairShare, Signal, Worker
from tests._support.fair_counts import RAN, render
from tests._support.timings import fast_worker
from tests.behaviours.test_keyspace_ttl import keys_without_ttl
from tests.conftest import eventually


@pytest.fixture(autouse=True)
def fresh_log() -> None:
    RAN.clear()


async def approved(
    n: int, tenant: Annotated[str, FairShare()], go: str = Signal("go-{n}")
) -> None:
    """A FairShare task that waits for a signal before it starts."""
    RAN[f"{tenant}/{n}/{go}"] += 1


async def fails_first(n: int, tenant: Annotated[str, FairShare()]) -> None:
    """A FairShare task that fails on its first run (no retry), then succeeds."""
    RAN[f"{tenant}/{n}"] += 1
    if RAN[f"{tenant}/{n}"] == 1:
        raise RuntimeError("first run fails")


async def parent_step() -> None:
    """A plain task other tasks wait for."""
    RAN["parent"] += 1


async def fill_the_window(docket: Docket) -> None:
    """10 tasks of value "filler": released to the stream at once (the default
    window), so the next due task of render waits in its backlog."""
    for n in range(10):
        await docket.add(render)(n, "filler")


def later() -> datetime:
    return datetime.now(timezone.utc) + timedelta(minutes=5)


async def depths(docket: Docket) -> dict[str, int]:
    backlogs = await docket.fair_share_backlogs()
    return {d.value: d.queued for d in backlogs.get("render", [])}


async def test_a_follower_released_while_the_window_is_full_is_held_back(
    docket: Docket,
):
    """With the window full, a parent's end puts its FairShare follower in the
    backlog of its value (record: queued, fairq=1), not in the stream."""
    docket.register(render)
    docket.register(parent_step)
    await docket.add(parent_step, key="parent", when=later())()
    await fill_the_window(docket)
    await docket.add(render, key="follower", after=["parent"], on_parent_failure="run")(
        0, "f"
    )
    await docket.cancel("parent")  # the follower runs all the same (policy "run")
    assert await depths(docket) == {"f": 1}
    async with docket.redis() as client:
        record = await client.hgetall(docket.runs_key("follower"))
    assert (record[b"state"], record[b"fairq"]) == (b"queued", b"1")
    async with fast_worker(docket) as worker:
        await worker.run_until_finished()
    assert RAN["f/0"] == 1 and sum(RAN.values()) == 11
    assert await depths(docket) == {}


async def test_a_task_released_by_its_signal_waits_in_its_backlog(docket: Docket):
    """A FairShare task waiting for a signal is released by it the same way: into
    its value's backlog (the window being full), then it runs once with the
    payload."""
    docket.register(approved)
    for n in range(100, 110):  # signalled first: they fill approved's window
        assert await docket.signal(f"go-{n}", "early") is False
        await docket.add(approved)(n, "filler")
    await docket.add(approved, key="approved")(7, "s")
    assert await docket.signal("go-7", "yes") is True
    backlogs = await docket.fair_share_backlogs()
    assert {d.value: d.queued for d in backlogs["approved"]} == {"s": 1}
    async with fast_worker(docket) as worker:
        await worker.run_until_finished()
    assert RAN["s/7/yes"] == 1 and sum(RAN.values()) == 11


async def test_a_replayed_failed_task_waits_in_its_backlog(docket: Docket):
    """A FairShare task that failed for good, replayed from the failed tasks (as
    `docket failed replay` and the dashboard do), waits in its value's backlog like
    a fresh add (the window being full), then runs once more and succeeds."""
    docket.register(fails_first)
    await docket.add(fails_first, key="doomed")(1, "t")
    async with fast_worker(docket) as worker:
        await worker.run_until_finished()
    assert RAN["t/1"] == 1
    for n in range(10):  # these fill fails_first's window (and wait beyond it)
        await docket.add(fails_first, key=f"filler-{n}")(n, "filler")
    assert await docket.failed_tasks.replay("doomed") is Disposition.SCHEDULED
    backlogs = await docket.fair_share_backlogs()
    assert {d.value: d.queued for d in backlogs["fails_first"]}["t"] == 1
    async with fast_worker(docket) as worker:
        await worker.run_until_finished()
    assert RAN["t/1"] == 2
    execution = await docket.get_execution("doomed")
    assert execution is not None and execution.state.value == "completed"


async def stored_window(docket: Docket, task: str) -> bytes | None:
    async with docket.redis() as client:
        return await client.hget(docket.broker.keys.fair("meta", task), "window")


async def test_the_window_is_the_sum_over_the_workers(docket: Docket):
    """Two workers serving one FairShare task (concurrency 10 and 15; before any
    run finished each wants a fifth of its slots, 2 and 3): the task's window is 5,
    the sum, not whichever worker told last."""
    docket.register(render)
    first = Worker(docket, concurrency=10, name="first")
    second = Worker(docket, concurrency=15, name="second")
    async with first, second:
        runs = [asyncio.ensure_future(w.run_forever()) for w in (first, second)]
        try:
            await eventually(
                lambda: _is(stored_window(docket, "render"), b"5"), timeout=10
            )
        finally:
            first.stop()
            second.stop()
            await asyncio.wait_for(asyncio.gather(*runs), 10)


async def test_a_worker_not_heard_from_stops_counting(docket: Docket):
    """Each worker's part counts until the horizon passes without it telling it
    again: the window is the sum of those heard from lately."""
    fair = docket.broker.fair
    await fair.release(["render"], 4, "a", horizon=10, now=1000.0)
    await fair.release(["render"], 6, "b", horizon=10, now=1005.0)
    assert await stored_window(docket, "render") == b"10"
    await fair.release(["render"], 4, "a", horizon=10, now=1012.0)  # b: 7 s ago
    assert await stored_window(docket, "render") == b"10"
    await fair.release(["render"], 3, "a", horizon=10, now=1016.0)  # b: 11 s ago
    assert await stored_window(docket, "render") == b"3"
    assert await keys_without_ttl(docket) == []


async def _is(value: Awaitable[bytes | None], expected: bytes) -> bool:
    return await value == expected


async def test_an_add_works_out_the_value_once(
    docket: Docket, monkeypatch: pytest.MonkeyPatch
):
    """An add reads the call's FairShare value once (for the message and for the
    backlog's cap alike), not once for each."""
    calls: list[str] = []
    real = execution_module.fair_share_value

    def counted(*arguments: Any) -> Any:
        calls.append("read")
        return real(*arguments)

    monkeypatch.setattr(execution_module, "fair_share_value", counted)
    docket.register(render)
    await docket.add(render)(1, "a")
    assert calls == ["read"]


async def test_a_backlog_emptied_as_the_window_fills_leaves_no_eternal_key(
    docket: Docket,
):
    """The add that releases a value's last waiting task and fills the window
    (10 adds, no worker) leaves no index behind: once those tasks are cancelled
    from the stream, with no worker ever serving the task, no FairShare key lacks
    an expiry (before, the value stayed in P:fair:active, and the task in
    P:fair:tasks, with nothing waiting and no TTL, until the task's next release)."""
    docket.register(render)
    for n in range(10):
        await docket.add(render, key=f"a-{n}")(n, "a")
    assert await docket.fair_share_backlogs() == {}
    for n in range(10):
        await docket.cancel(f"a-{n}")
    assert await keys_without_ttl(docket) == []


async def test_a_value_back_after_its_backlog_emptied_is_charged_its_turn(
    docket: Docket,
):
    """A value whose last waiting task a release took comes back no earlier than
    its next turn: "a" has had nine releases (its backlog emptied each time) when
    "z" first comes; with the window full, "z" and then "a" each add one more, and
    the next release takes z's (a's next turn is after the one z joins at), not
    a's, as it would if "a" came back at the current virtual time (a tie, which
    the value's name decides)."""
    docket.register(render)
    await docket.add(render, key="z-0")(0, "z")
    for n in range(9):
        await docket.add(render, key=f"a-{n}")(n, "a")
    await docket.add(render, key="z-1")(1, "z")
    await docket.add(render, key="a-9")(9, "a")
    assert await depths(docket) == {"a": 1, "z": 1}
    await docket.cancel("a-0")  # leaves the stream: a periodic release reopens one
    assert (await docket.broker.fair.release(["render"])).released == 1
    assert await depths(docket) == {"a": 1}
