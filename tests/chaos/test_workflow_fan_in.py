"""A group's fan-in under faults: the follower of 1,000 members runs exactly once,
after every member finished, however the workers and Redis fail meanwhile."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from tests.chaos.profiles import Profile, timeout
from tests.chaos.scenario import Scenario
from tests.chaos.tasks import fan_in, work

pytestmark = pytest.mark.timeout(timeout())

MEMBERS = 1000


async def test_group_fan_in_survives_kill9_and_redis_restart(
    profile: Profile, tmp_path: Path
) -> None:
    """1,000 members on two worker processes; one is SIGKILLed a quarter of the
    way and restarted, and redis-server (AOF) restarts half way. The follower
    starts once, after the last member's finish, and sees 1,000 parents."""
    async with Scenario("group-fan-in", profile, tmp_path) as s:
        await s.start_workers("w1", "w2")
        seconds = profile.task_seconds * 2
        async with s.docket.group("chaos") as g:
            await g.add_many(
                [
                    s.docket.call(work, key=f"member-{i:04d}")(seconds)
                    for i in range(MEMBERS)
                ]
            )
        members = set(g.keys)
        assert len(members) == MEMBERS
        follower = await s.docket.add(fan_in, key="follower", after=g)()

        outcome, killed, came_back = await s.through_kill_and_restart(
            members, drain=members | {"follower"}
        )
        journal = s.journal.poll()
        starts = journal.starts.get("follower", [])
        last_member = max(journal.finish_times(members), default=0.0)
        parents = await asyncio.wait_for(
            follower.get_result(timeout=timedelta(seconds=30)), 40
        )
        outcome.details.append(
            f"follower started {len(starts)} time(s), "
            + (
                f"{(starts[0].at - last_member) * 1000:.0f} ms after the last member"
                if starts
                else "never"
            )
            + f", saw {parents} parents; redis back at +{came_back - killed:.1f}s"
        )
        outcome.check(len(starts) == 1, f"the follower ran {len(starts)} times")
        outcome.check(
            bool(starts) and starts[0].at >= last_member,
            "the follower started before the last member finished",
        )
        outcome.check(parents == MEMBERS, f"the follower saw {parents} parents")
        s.verdict(outcome)
