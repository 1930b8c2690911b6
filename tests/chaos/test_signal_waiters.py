"""Signals under faults: every waiter is released by exactly one of the two
signals sent for it at once, and runs exactly once with its payload, while one
worker is SIGKILLed and restarted and redis-server (AOF) restarts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.chaos.profiles import Profile, timeout
from tests.chaos.scenario import Scenario
from tests.chaos.tasks import signalled

pytestmark = pytest.mark.timeout(timeout())

WAITERS = 300


async def test_signals_sent_twice_release_each_waiter_once(
    profile: Profile, tmp_path: Path
) -> None:
    """300 tasks wait for a signal each (no slot held). Each signal is sent twice
    at the same moment while worker w1 is killed with SIGKILL (and restarted) a
    third of the way through and redis-server restarts (AOF) later: for every
    waiter exactly one of its two sends reports a release, and the waiter runs
    once, with its own payload (a wrong payload fails the task, so it would never
    finish)."""
    async with Scenario("signal-waiters", profile, tmp_path) as s:
        await s.start_workers("w1", "w2")
        seconds = profile.task_seconds
        keys = {f"waiter-{n:03d}" for n in range(WAITERS)}
        await s.docket.add_many(
            [
                s.docket.call(signalled, key=f"waiter-{n:03d}")(n, seconds)
                for n in range(WAITERS)
            ]
        )
        released: dict[int, list[bool]] = {}
        pid, killed = 0, 0.0

        async def send(n: int) -> None:
            pair = await asyncio.gather(
                s.docket.signal(f"chaos-{n}", {"n": n}),
                s.docket.signal(f"chaos-{n}", {"n": n}),
            )
            released[n] = list(pair)

        for n in range(WAITERS):
            if n == WAITERS // 3:
                pid, killed = s.fleet.kill9("w1")
                s.fleet.spawn("w1")
            await send(n)
        _, came_back = await s.restart_server(profile.restart_outage)

        drained = await s.drain(keys, profile.drain_timeout + 30)
        outcome = await s.outcome(
            keys, drained=drained, deaths={pid: killed}, supervised=True
        )
        once = sum(1 for pair in released.values() if sorted(pair) == [False, True])
        outcome.details.append(
            f"{once} of {WAITERS} signal pairs released their waiter exactly once; "
            f"redis back at +{came_back - killed:.1f}s"
        )
        outcome.check(once == WAITERS, f"only {once} pairs released exactly once")
        s.verdict(outcome)
