"""FairShare under faults: tasks released from their tenants' backlogs by one
worker and claimed by another, a worker killed with -9 while it holds released
and running tasks, redis-server restarted meanwhile: every task runs, none
finishes twice, and the small tenants are not starved by the large one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.profiles import Profile, timeout
from tests.chaos.scenario import Scenario
from tests.chaos.tasks import shared

pytestmark = pytest.mark.timeout(timeout())

BACKLOGS = {"large": 600, "medium": 150, "small": 50}


async def test_fair_share_survives_kill9_and_redis_restart(
    profile: Profile, tmp_path: Path
) -> None:
    """800 FairShare tasks over three tenants (600/150/50) on two worker
    processes; one is SIGKILLed a quarter of the way and restarted, and
    redis-server (AOF) restarts half way. Every task finishes exactly once, and
    the small tenant's last task ends before the large tenant's last third."""
    async with Scenario("fair-share", profile, tmp_path) as s:
        await s.start_workers("w1", "w2")
        seconds = profile.task_seconds
        calls = [
            s.docket.call(shared, key=f"{tenant}-{i:04d}")(seconds, tenant)
            for tenant, count in BACKLOGS.items()
            for i in range(count)
        ]
        await s.docket.add_many(calls)
        keys = {f"{t}-{i:04d}" for t, count in BACKLOGS.items() for i in range(count)}

        outcome, killed, came_back = await s.through_kill_and_restart(keys)
        journal = s.journal.poll()
        ends = sorted(journal.finish_times(keys, "large"))
        two_thirds = ends[len(ends) * 2 // 3] if ends else 0.0
        small_done = max(journal.finish_times(keys, "small"), default=0.0)
        outcome.details.append(
            f"small tenant done {small_done - killed:+.1f}s from the kill, large's "
            f"two-thirds mark {two_thirds - killed:+.1f}s; redis back at "
            f"+{came_back - killed:.1f}s"
        )
        outcome.check(
            0 < small_done <= two_thirds,
            "the small tenant finished after two thirds of the large one's work",
        )
        s.verdict(outcome)
