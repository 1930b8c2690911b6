"""Priorities under faults: tasks spread over three priority levels, dispatched
from their lanes to one worker while another is killed with -9 (holding
dispatched and running tasks) and redis-server restarts: every task runs, none
finishes twice, and the high-priority work is done before the low-priority."""

from __future__ import annotations

from pathlib import Path
from statistics import median

import pytest

from tests.chaos.profiles import Profile, timeout
from tests.chaos.scenario import Scenario
from tests.chaos.tasks import work

pytestmark = pytest.mark.timeout(timeout())

LEVELS = {7: 200, 5: 200, 3: 200}


async def test_priorities_survive_kill9_and_redis_restart(
    profile: Profile, tmp_path: Path
) -> None:
    """600 tasks at priorities 7, 5 and 3 (200 each, added lowest first) on two
    worker processes; one is SIGKILLed a quarter of the way and restarted, and
    redis-server (AOF) restarts half way. Every task finishes exactly once, and
    the priority-7 tasks' median finish comes before the priority-3 tasks'."""
    async with Scenario("priorities", profile, tmp_path) as s:
        await s.start_workers("w1", "w2")
        seconds = profile.task_seconds
        calls = [
            s.docket.call(work, key=f"p{level}-{i:04d}", priority=level)(seconds)
            for level in sorted(LEVELS)
            for i in range(LEVELS[level])
        ]
        await s.docket.add_many(calls)
        keys = {f"p{level}-{i:04d}" for level, n in LEVELS.items() for i in range(n)}

        outcome, killed, came_back = await s.through_kill_and_restart(keys)
        journal = s.journal.poll()

        def median_finish(level: int) -> float:
            ends = journal.finish_times(keys, f"p{level}-")
            return median(ends) if ends else 0.0

        high, low = median_finish(7), median_finish(3)
        outcome.details.append(
            f"median finish: priority 7 {high - killed:+.1f}s, priority 3 "
            f"{low - killed:+.1f}s from the kill; redis back at "
            f"+{came_back - killed:.1f}s"
        )
        outcome.check(
            0 < high < low,
            "the priority-7 tasks did not finish before the priority-3 tasks",
        )
        s.verdict(outcome)
