"""Redis faults under load: two worker processes, a producer with explicit keys,
and a fault in the middle of the traffic. Each scenario reconciles the workers'
journals (lost, run twice, recovery) against the bar of a worker that never stops:
0 lost, 0 duplicates when the outage is shorter than the redelivery timeout,
service back within 2.5 s of Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from redis.exceptions import ResponseError

from tests.chaos.profiles import Profile, timeout
from tests.chaos.report import Outcome
from tests.chaos.scenario import Scenario

pytestmark = pytest.mark.timeout(timeout())

Fault = Callable[[Scenario], Awaitable[tuple[float, float]]]
"""Injects the fault; returns (fault began, Redis usable again), monotonic."""


async def under_load(
    s: Scenario, fault: Fault, *, wipes: bool = False, stall: bool = False
) -> Outcome:
    """Two workers, the producer running, the fault once a fifth of the tasks
    finished; then drain and reconcile. ``wipes``: the fault erases Redis, so
    tasks confirmed before the old server process exited that never ran are
    counted apart (wiped with its data), not as lost. ``stall``: Redis stalls
    as a whole, so no duplicate is allowed whatever the stall's length."""
    await s.start_workers("w1", "w2")
    producer = s.producer()
    p = s.profile
    patience = 30 + max(
        p.restart_outage, p.pause, p.oom_outage, p.stall_pause, p.stall_freeze
    )
    production = asyncio.create_task(producer.run(patience))
    try:
        assert await s.flowing(set(producer.keys), 0.2), "no traffic before the fault"
        began, came_back = await fault(s)
        await production
    finally:
        production.cancel()
    expected = set(producer.confirmed)
    gone = s.server_gone if s.server_gone is not None else began
    if wipes:
        expected = producer.confirmed_between(gone)
    drained = await s.drain(expected, s.profile.drain_timeout)
    outcome = await s.outcome(
        expected,
        drained=drained,
        came_back=came_back,
        outage=came_back - began,
        stall=stall,
    )
    if wipes:
        before = producer.confirmed_between(0, gone)
        wiped = [k for k in before if not s.journal.finishes.get(k)]
        outcome.details.append(f"unfinished when the data was wiped {len(wiped)}")
    outcome.check(not producer.gave_up, f"producer gave up on {len(producer.gave_up)}")
    return outcome


async def test_redis_restart_with_aof(profile: Profile, tmp_path: Path) -> None:
    """A redis-server restart with the append-only file on: nothing lost, nothing
    run twice, service back within the bar."""

    async def restart(s: Scenario) -> tuple[float, float]:
        return await s.restart_server(profile.restart_outage)

    async with Scenario("redis-restart-aof", profile, tmp_path) as s:
        s.verdict(await under_load(s, restart))


async def test_redis_restart_without_persistence(
    profile: Profile, tmp_path: Path
) -> None:
    """A redis-server restart WITHOUT persistence comes back empty (no consumer
    group, no records). Tasks only Redis knew of are legitimately gone, so "lost"
    counts the tasks the producer added once the old server process had exited
    (it keeps adding through the outage); tasks added before that and not run
    are reported as wiped. Workers must recreate what they need and serve again,
    and no finished task may run twice."""

    async def restart(s: Scenario) -> tuple[float, float]:
        return await s.restart_server(profile.restart_outage)

    async with Scenario(
        "redis-restart-no-persistence", profile, tmp_path, durable=False
    ) as s:
        s.verdict(await under_load(s, restart, wipes=True))


async def test_client_kill(profile: Profile, tmp_path: Path) -> None:
    """CLIENT KILL of every normal and pub/sub connection but the controller's
    own (``SKIPME yes``), ``client_kills`` times: the workers reconnect at once."""

    async def kill(s: Scenario) -> tuple[float, float]:
        last = time.monotonic()
        for index in range(profile.client_kills):
            if index:
                await asyncio.sleep(0.5)  # traffic between two kills (the fault's pace)
            last = time.monotonic()
            for kind in ("normal", "pubsub"):
                await s.control.execute_command(
                    "CLIENT", "KILL", "TYPE", kind, "SKIPME", "yes"
                )
        return last, last  # each kill is instant: no outage, count from the last

    async with Scenario("client-kill", profile, tmp_path) as s:
        s.verdict(await under_load(s, kill))


async def test_client_pause_beyond_socket_timeout(
    profile: Profile, tmp_path: Path
) -> None:
    """CLIENT PAUSE for longer than the workers' ``socket_timeout=1``: their
    commands time out; they must ride it out and carry on."""

    async def pause(s: Scenario) -> tuple[float, float]:
        began = time.monotonic()
        milliseconds = int(profile.pause * 1000)
        await s.control.execute_command("CLIENT", "PAUSE", milliseconds, "ALL")
        await asyncio.sleep(profile.pause)  # the fault's duration
        return began, await s.back()  # answered once the pause ends

    async with Scenario(
        "client-pause", profile, tmp_path, url_options="socket_timeout=1"
    ) as s:
        s.verdict(await under_load(s, pause))


async def test_maxmemory_oom(profile: Profile, tmp_path: Path) -> None:
    """``maxmemory`` below what is used, with ``noeviction``, while the producer
    keeps adding (its adds are refused with OOM and retried); then raised again.
    Workers never exit, and nothing is lost once memory is back."""
    refused: list[str] = []

    async def starve(s: Scenario) -> tuple[float, float]:
        info = await s.control.info("memory")
        used = int(info["used_memory"])
        await s.control.config_set("maxmemory-policy", "noeviction")
        began = time.monotonic()
        await s.control.config_set("maxmemory", str(used // 2))
        try:
            await s.control.set(s.docket.key("chaos-probe"), "x" * 1024)
        except ResponseError as error:
            refused.append(str(error))
        await asyncio.sleep(profile.oom_outage)  # the fault's duration
        await s.control.config_set("maxmemory", "0")
        return began, time.monotonic()

    async with Scenario("maxmemory-oom", profile, tmp_path) as s:
        outcome = await under_load(s, starve)
        outcome.check(bool(refused), "the server did not refuse writes (no OOM)")
        s.verdict(outcome)
