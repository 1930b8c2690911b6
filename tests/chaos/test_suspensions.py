"""Suspended tasks under faults: tasks that sleep durably and wait for a signal
between checkpointed steps while a worker is killed with SIGKILL and
redis-server (AOF) restarts. Each
step runs once (a re-run only for a step whose worker died within moments of its
end, before its mark could be written), and each task completes once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.profiles import Profile, timeout
from tests.chaos.scenario import Scenario
from tests.chaos.tasks import suspender

pytestmark = pytest.mark.timeout(timeout())

TASKS = 60
STEPS = 3


async def test_suspended_tasks_survive_kill9_and_redis_restart(
    profile: Profile, tmp_path: Path
) -> None:
    """60 tasks of 3 steps, each step followed by a durable sleep (the second by
    a wait for the task's signal), on two worker processes; one is SIGKILLed
    when a quarter of the steps are done and restarted, the signals are sent
    (some to waiting tasks, some kept for tasks still to wait), and redis-server
    restarts. Nothing is lost, no step marked in a checkpoint runs again, every
    task completes once with its own payload."""
    async with Scenario("suspensions", profile, tmp_path) as s:
        await s.start_workers("w1", "w2")
        keys = {f"suspender-{i:03d}" for i in range(TASKS)}
        steps = {f"{key}/{n}" for key in keys for n in range(STEPS)}
        await s.docket.add_many(
            [
                s.docket.call(suspender, key=key)(STEPS, profile.task_seconds, 0.5)
                for key in sorted(keys)
            ]
        )
        assert await s.flowing(steps, 0.25, timeout=60), "the steps did not start"
        pid, killed = s.fleet.kill9("w1")
        s.fleet.spawn("w1")  # the supervisor starts it again
        assert await s.flowing(steps, 0.5, timeout=60), "no progress after the kill"
        for key in sorted(keys):  # waited for, or kept for the task's wait to take
            await s.docket.signal(f"{key}-go", key)
        _, came_back = await s.restart_server(profile.restart_outage)

        expected = keys | steps
        drained = await s.drain(expected, profile.drain_timeout + 30)
        outcome = await s.outcome(
            expected, drained=drained, deaths={pid: killed}, supervised=True
        )
        journal = s.journal.poll()
        finished = sum(1 for key in keys if len(journal.finishes.get(key, [])) == 1)
        outcome.details.append(
            f"{finished}/{TASKS} tasks completed once; redis back at "
            f"+{came_back - killed:.1f}s"
        )
        outcome.check(finished == TASKS, f"{TASKS - finished} tasks not completed once")
        async with s.docket.redis() as client:
            left = [
                k async for k in client.scan_iter(match=f"{s.docket.prefix}:steps:*")
            ]
        outcome.check(not left, f"{len(left)} checkpoints left after their runs")
        s.verdict(outcome)
