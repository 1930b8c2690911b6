"""FairShare through a real Docket and Worker, on both backends (and a Cluster
where marked): values of a task's FairShare parameter share its slots fairly,
weighted; a value's backlog may be capped; cancel, replace, scheduled tasks,
retries, strikes, pauses and per-value concurrency caps keep working; every task
runs once, whatever bytes its value holds."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from typing import Annotated

import pytest

from docket import (
    ConcurrencyLimit,
    CurrentDocket,
    CurrentExecution,
    Docket,
    Execution,
    FairShare,
    FairShareFull,
    Perpetual,
    Retry,
)
from docket._broker.fair import FairDepth
from tests._support.fair_tasks import fill_backlogs
from tests._support.timings import fast_worker
from tests.behaviours.test_keyspace_ttl import keys_without_ttl
from tests.conftest import eventually

STARTS: list[str] = []
RAN: Counter[str] = Counter()
PASSED: defaultdict[str, list[tuple[bytes | None, bytes | None]]] = defaultdict(list)


@pytest.fixture(autouse=True)
def fresh_log() -> None:
    STARTS.clear()
    RAN.clear()
    PASSED.clear()


async def render(n: int, tenant: Annotated[str, FairShare()]) -> None:
    """A FairShare task: records which value started, and each (value, n) run."""
    STARTS.append(tenant)
    RAN[f"{tenant}/{n}"] += 1
    await asyncio.sleep(0.002)


async def capped(n: int, tenant: Annotated[str, FairShare(max_queued=3)]) -> None:
    """A FairShare task whose values may each hold 3 tasks in their backlog."""
    RAN[f"{tenant}/{n}"] += 1


async def flaky(
    n: int,
    tenant: Annotated[str, FairShare()],
    retry: Retry = Retry(attempts=3),
    docket: Docket = CurrentDocket(),
    execution: Execution = CurrentExecution(),
) -> None:
    """Fails on its first two attempts; each attempt notes what its run record
    says of its backlog (its value, and fairq: "0" once released from it)."""
    RAN[f"{tenant}/{n}"] += 1
    async with docket.redis() as client:
        record = await client.hgetall(docket.runs_key(execution.key))
    PASSED[f"{tenant}/{n}"].append((record.get(b"fair"), record.get(b"fairq")))
    if retry.attempt < 3:
        raise RuntimeError("not yet")


async def ticking(
    tenant: Annotated[str, FairShare()],
    perpetual: Perpetual = Perpetual(every=timedelta(milliseconds=10)),
) -> None:
    """A perpetual FairShare task: stops after its fifth run."""
    RAN[tenant] += 1
    if RAN[tenant] >= 5:
        perpetual.cancel()


async def per_tenant(
    n: int,
    tenant: Annotated[str, FairShare(), ConcurrencyLimit(1)],
) -> None:
    """At most one at a time per tenant, and fair between tenants."""
    STARTS.append(tenant)
    RAN[f"{tenant}/{n}"] += 1
    await asyncio.sleep(0.01)


async def last_small_start(docket: Docket, large: int, small: int) -> int:
    """Adds ``large`` tasks of value "large", then ``small`` of value "small", runs
    them all, checks each ran once, and returns where the last "small" one started
    (its index in STARTS)."""
    docket.register(render)
    for n in range(large):
        await docket.add(render)(n, "large")
    for n in range(small):
        await docket.add(render)(n, "small")
    async with fast_worker(docket) as worker:
        await worker.run_until_finished()
    assert sorted(RAN.values()) == [1] * (large + small)
    return max(i for i, value in enumerate(STARTS) if value == "small")


@pytest.mark.cluster_ok
async def test_a_small_value_is_served_beside_a_large_backlog(docket: Docket):
    """200 tasks of one value, then 10 of another: the small value's tasks start
    interleaved with the large one's, not after it; every task runs once."""
    assert await last_small_start(docket, 200, 10) < 60, STARTS[:80]


@pytest.mark.cluster_ok
async def test_weights_share_the_slots(docket: Docket):
    """Under backlog, a value of weight 3 gets about three times the starts of a
    value of weight 1; the weight is read back and cleared."""
    docket.register(render)
    await docket.set_fair_share_weight(render, "heavy", 3)
    assert await docket.get_fair_share_weight("render", "heavy") == 3.0
    assert await docket.get_fair_share_weight("render", "light") == 1.0
    for n in range(150):
        await docket.add(render)(n, "light")
        await docket.add(render)(n, "heavy")
    async with fast_worker(docket) as worker:
        await worker.run_until_finished()
    window = STARTS[20:120]  # past the first window, both values backlogged
    ratio = window.count("heavy") / window.count("light")
    assert 2.2 < ratio < 4.0, ratio
    assert await docket.fair_share_weights() == {("render", "heavy"): 3.0}
    assert await docket.clear_fair_share_weight(render, "heavy") is True
    assert await docket.clear_fair_share_weight(render, "heavy") is False
    assert await docket.get_fair_share_weight(render, "heavy") == 1.0


async def test_backlogs_are_listed_per_value(docket: Docket):
    """fair_share_backlogs shows the depth of each value's backlog and its weight."""
    await fill_backlogs(docket, render, {"a": 15, "b": 3}, {"b": 2.5})
    backlogs = await docket.fair_share_backlogs()
    depths = {d.value: (d.queued, d.weight) for d in backlogs["render"]}
    # the first window (10 tasks) went to the stream at once
    assert depths == {"a": (5, 1.0), "b": (3, 2.5)}
    async with fast_worker(docket) as worker:
        await worker.run_until_finished()
    assert await docket.fair_share_backlogs() == {}


async def test_the_snapshot_shows_the_backlogs(docket: Docket):
    """Docket.snapshot().fair_share holds what fair_share_backlogs() reads: per
    task, each waiting value's count and weight; empty once they ran."""
    await fill_backlogs(docket, render, {"a": 12, "b": 2}, {"b": 2})
    snapshot = await docket.snapshot()
    assert snapshot.fair_share == {
        "render": [FairDepth("a", 2, 1.0), FairDepth("b", 2, 2.0)]
    }
    assert snapshot.fair_share == await docket.fair_share_backlogs()
    async with fast_worker(docket) as worker:
        await worker.run_until_finished()
    assert (await docket.snapshot()).fair_share == {}


@pytest.mark.cluster_ok
async def test_max_queued_refuses_the_add_when_the_backlog_is_full(docket: Docket):
    """FairShare(max_queued=3): a fourth waiting task of one value is refused with
    FairShareFull (nothing written); other values and a replace of a waiting key
    are not refused; once the backlog drains, adds are accepted again."""
    docket.register(capped)
    # fill the first window so that later tasks wait in the backlogs
    for n in range(10):
        await docket.add(capped)(n, "filler")
    for n in range(3):
        await docket.add(capped, key=f"a-{n}")(n, "a")
    with pytest.raises(FairShareFull) as refused:
        await docket.add(capped, key="a-3")(3, "a")
    assert refused.value.max_queued == 3
    assert "a-3" in str(refused.value)
    assert await docket.get_execution("a-3") is None
    await docket.replace(capped, datetime.now(timezone.utc), "a-1")(11, "a")
    await docket.add(capped)(0, "b")
    async with fast_worker(docket) as worker:
        await worker.run_until_finished()
    assert RAN["a/11"] == 1 and RAN["a/1"] == 0
    await docket.add(capped, key="a-3")(3, "a")
    async with fast_worker(docket) as worker:
        await worker.run_until_finished()
    assert RAN["a/3"] == 1


@pytest.mark.parametrize(
    "value",
    [
        "",
        "a:b",
        "{tag}",
        "fair:q:6:render:x",
        "line\nbreak\x1b[31m",
        "*",
        "üñí©ødé ☃",
        "x" * 2000,
    ],
)
async def test_hostile_values_run_once_and_stay_apart(docket: Docket, value: str):
    """Any text is a value: each runs once, in its own backlog (a value that spells
    another family's key does not meet it)."""
    docket.register(render)
    for n in range(12):
        await docket.add(render)(n, value)
        await docket.add(render)(n, "other")
    async with fast_worker(docket) as worker:
        await worker.run_until_finished()
    assert RAN == Counter({f"{v}/{n}": 1 for v in (value, "other") for n in range(12)})


async def test_cancel_and_replace_of_a_waiting_task(docket: Docket):
    """A task cancelled while it waits in a backlog never runs; one replaced there
    runs once, with its new arguments (even under another value)."""
    docket.register(render)
    for n in range(10):
        await docket.add(render)(n, "filler")
    await docket.add(render, key="gone")(100, "a")
    await docket.add(render, key="moved")(101, "a")
    await docket.cancel("gone")
    now = datetime.now(timezone.utc)
    await docket.replace(render, now, "moved")(102, "b")
    depths = {d.value: d.queued for d in (await docket.fair_share_backlogs())["render"]}
    assert depths == {"b": 1}
    async with fast_worker(docket) as worker:
        await worker.run_until_finished()
    assert RAN["a/100"] == 0 and RAN["a/101"] == 0 and RAN["b/102"] == 1


async def test_cancelling_a_whole_backlog_leaves_no_key_behind(docket: Docket):
    """Cancelled and replaced tasks take their backlogs with them: with no worker
    serving the task (none would release it again), no fair-share key is left
    without a TTL, and the value comes back when added again."""
    docket.register(render)
    for n in range(14):
        await docket.add(render, key=f"k-{n}")(n, "a" if n % 2 else "b")
    for n in range(10, 14):  # the first ten went to the stream (the window)
        await docket.cancel(f"k-{n}")
    await docket.replace(render, datetime.now(timezone.utc), "k-1")(1, "c")
    await docket.cancel("k-1")
    assert await docket.fair_share_backlogs() == {}
    assert await keys_without_ttl(docket) == []
    await docket.add(render, key="again")(0, "a")
    async with fast_worker(docket) as worker:
        await worker.run_until_finished()
    assert RAN["a/0"] == 1 and sum(RAN.values()) == 10


@pytest.mark.cluster_ok
async def test_scheduled_tasks_enter_the_backlog_when_due(docket: Docket):
    """A FairShare task added for later waits in the queue, then joins its value's
    backlog when due and runs once."""
    docket.register(render)
    soon = datetime.now(timezone.utc) + timedelta(milliseconds=200)
    for n in range(5):
        await docket.add(render, when=soon)(n, "later")
    async with fast_worker(docket) as worker:
        await worker.run_until_finished()
    assert RAN == Counter({f"later/{n}": 1 for n in range(5)})


async def test_retries_go_back_through_the_backlog(docket: Docket):
    """A failing FairShare task is retried until it succeeds, each retry through
    its value's backlog: every attempt's run record was released from the backlog
    of "t" (a retry placed straight in the stream would have a fresh record
    without them)."""
    docket.register(flaky)
    for n in range(3):
        await docket.add(flaky)(n, "t")
    async with fast_worker(docket) as worker:
        await worker.run_until_finished()
    assert RAN == Counter({f"t/{n}": 3 for n in range(3)})
    assert PASSED == {f"t/{n}": [(b"t", b"0")] * 3 for n in range(3)}


async def test_a_capped_value_does_not_hold_back_the_others(docket: Docket):
    """ConcurrencyLimit(1) per tenant still holds under FairShare, and a tenant
    held back by its cap does not stop the others: all run, one at a time each."""
    docket.register(per_tenant)
    for n in range(20):
        await docket.add(per_tenant)(n, "capped")
    for tenant in ("x", "y", "z"):
        for n in range(3):
            await docket.add(per_tenant)(n, tenant)
    async with fast_worker(docket, concurrency=6) as worker:
        await worker.run_until_finished()
    assert sum(RAN.values()) == 29 and set(RAN.values()) == {1}
    last_other = max(i for i, t in enumerate(STARTS) if t != "capped")
    assert last_other < 25


async def test_strikes_and_pauses_hold_fair_tasks(docket: Docket):
    """A struck value's tasks never run while the others do; a paused FairShare
    task waits and runs once after its resume."""
    docket.register(render)
    await docket.strike("render", "tenant", "==", "banned")
    for n in range(5):
        await docket.add(render)(n, "banned")
    await docket.restore("render", "tenant", "==", "banned")
    await docket.pause(render)
    for n in range(5):
        await docket.add(render)(n, "ok")
    async with fast_worker(docket) as worker:
        running = asyncio.ensure_future(worker.run_forever())
        try:

            async def held() -> bool:
                return (await docket.broker.pauses.held_count(["render"]))[0] == 5

            await eventually(held, timeout=10)
            assert not RAN
            await docket.resume(render)
            await eventually(lambda: sum(RAN.values()) == 5, timeout=10)
        finally:
            worker.stop()
            await asyncio.wait_for(running, 10)
    assert RAN == Counter({f"ok/{n}": 1 for n in range(5)})


async def test_signed_dockets_share_fairly(docket_url: str, docket_name: str):
    """With signing keys, FairShare tasks are placed, released and run as usual."""
    async with Docket(
        name=docket_name, url=docket_url, signing_keys=["a" * 32]
    ) as docket:
        assert await last_small_start(docket, 30, 1) < 20, STARTS


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"max_queued": 0}, ValueError),
        ({"max_queued": -3}, ValueError),
        ({"max_queued": "3"}, TypeError),
        ({"max_queued": 2.5}, TypeError),
        ({"max_queued": True}, TypeError),
    ],
)
def test_bad_max_queued_is_refused(arguments: dict[str, object], error: type):
    """FairShare(max_queued=...) takes a positive int (or None) and nothing else."""
    with pytest.raises(error, match="max_queued"):
        FairShare(**arguments)  # type: ignore[arg-type]


async def test_two_fair_share_parameters_are_refused_at_registration(docket: Docket):
    """A task shares its slots by one parameter: two FairShare ones are refused
    when it is registered."""

    async def twice(
        a: Annotated[str, FairShare()], b: Annotated[str, FairShare()]
    ) -> None: ...

    with pytest.raises(TypeError, match="more than one parameter"):
        docket.register(twice)


@pytest.mark.parametrize("value", [3, None, b"bytes", ["a"], "\ud800"])
async def test_a_value_that_is_not_text_is_refused_at_add(
    docket: Docket, value: object
):
    """The FairShare parameter's value must be text (UTF-8 encodable): anything
    else is refused before anything is written."""
    docket.register(render)
    with pytest.raises((TypeError, ValueError), match="FairShare parameter"):
        await docket.add(render, key="bad")(1, value)  # type: ignore[arg-type]
    assert await docket.get_execution("bad") is None


async def test_a_missing_value_is_refused_at_add(docket: Docket):
    """A call that leaves the FairShare parameter out is refused at add."""
    docket.register(render)
    with pytest.raises(TypeError, match="FairShare parameter"):
        await docket.add(render)(1)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("weight", "error"),
    [
        (0, ValueError),
        (-1, ValueError),
        (float("nan"), ValueError),
        (float("inf"), ValueError),
        ("3", TypeError),
        (True, TypeError),
        (None, TypeError),
    ],
)
async def test_bad_weights_are_refused(docket: Docket, weight: object, error: type):
    """A weight is a positive, finite number; anything else is refused and the
    weight stays as it was."""
    with pytest.raises(error, match="weight"):
        await docket.set_fair_share_weight(render, "a", weight)  # type: ignore[arg-type]
    assert await docket.get_fair_share_weight(render, "a") == 1.0


async def test_bad_task_or_value_for_a_weight_is_refused(docket: Docket):
    """Weights name a task (a function or a non-empty name) and a text value."""
    with pytest.raises(TypeError):
        await docket.set_fair_share_weight(42, "a", 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        await docket.set_fair_share_weight("", "a", 2)
    with pytest.raises(TypeError, match="FairShare value must be a str"):
        await docket.set_fair_share_weight(render, 7, 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cannot be encoded as UTF-8"):
        await docket.get_fair_share_weight(render, "\ud800")


async def test_clear_withdraws_the_backlogs(docket: Docket):
    """docket.clear() withdraws the tasks waiting in fair-share backlogs too (their
    records cancelled, the backlogs gone): nothing of them runs afterwards, and
    their keys can be added again. No fair-share key is left without a TTL (the
    embedded engine keeps an emptied set unless it is deleted)."""
    docket.register(render)
    for n in range(25):
        await docket.add(render, key=f"k-{n}")(n, "a" if n % 2 else "b")
    withdrawn = await docket.clear()
    assert withdrawn == 25
    assert await docket.fair_share_backlogs() == {}
    assert await keys_without_ttl(docket) == []
    execution = await docket.get_execution("k-20")
    assert execution is not None and execution.state.value == "cancelled"
    await docket.add(render, key="k-20")(20, "b")
    async with fast_worker(docket) as worker:
        await worker.run_until_finished()
    assert RAN == Counter({"b/20": 1})


async def test_perpetual_successors_go_through_the_backlog(docket: Docket):
    """A Perpetual FairShare task's successors are placed like any add (joining
    their value's backlog when due) and run one after another until it stops."""
    docket.register(ticking)
    await docket.add(ticking, key="tick-a")("a")
    await docket.add(ticking, key="tick-b")("b")
    async with fast_worker(docket) as worker:
        await worker.run_until_finished()
    assert RAN == Counter({"a": 5, "b": 5})


async def plain_step(n: int) -> None:
    """A task without FairShare (priority 5)."""
    STARTS.append("plain")


async def test_a_released_task_keeps_its_priority(docket: Docket):
    """FairShare tasks added at priority 9 behind 40 plain priority-5 tasks: once
    released from their backlogs they take the priority-9 lane and start before
    the plain backlog; every task runs once."""
    docket.register(render)
    docket.register(plain_step)
    for n in range(40):
        await docket.add(plain_step)(n)
    for n in range(6):
        await docket.add(render, priority=9)(n, "urgent")
    async with fast_worker(docket, concurrency=2) as worker:
        await worker.run_until_finished()
    assert len(STARTS) == 46 and STARTS.count("urgent") == 6
    last_urgent = max(i for i, v in enumerate(STARTS) if v == "urgent")
    assert last_urgent < 20, STARTS


async def test_fire_and_forget_dockets_share_fairly(docket_url: str, docket_name: str):
    """With execution_ttl=0 (records never say running, and go at settle) the
    window still opens as tasks are claimed: all run once, the small value early."""
    async with Docket(
        name=docket_name, url=docket_url, execution_ttl=timedelta(0)
    ) as docket:
        assert await last_small_start(docket, 60, 5) < 30, STARTS
