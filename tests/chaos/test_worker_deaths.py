"""Worker processes that die: a kill -9 in the middle of a task, and a task that
ends its own process (``os._exit``) every time it runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.chaos.profiles import RERUN_SLACK, Profile, timeout
from tests.chaos.scenario import Scenario, mentions
from tests.chaos.tasks import crash

pytestmark = pytest.mark.timeout(timeout())


def killed_in(s: Scenario, key: str, crashed: set[int]) -> bool:
    """Whether ``key`` started in a process that crashed before it finished there."""
    for pid in crashed:
        starts = sum(1 for e in s.journal.starts.get(key, []) if e.pid == pid)
        if starts > sum(1 for e in s.journal.finishes.get(key, []) if e.pid == pid):
            return True
    return False


async def test_kill9_mid_task(profile: Profile, tmp_path: Path) -> None:
    """SIGKILL a worker while it runs long tasks (and nothing else, so no
    finished-but-unsettled work of it can be re-run): the other worker must
    re-run each of them within redelivery_timeout + 2 s of the kill, while it
    keeps serving new work; nothing lost, nothing finished twice."""
    async with Scenario("kill-9-mid-task", profile, tmp_path) as s:
        await s.start_workers("w1", "w2")
        held = s.producer("held", profile.held_tasks)
        held.seconds, held.rate = profile.hold_seconds, 1000.0
        await held.run(patience=30)
        assert await s.until(
            lambda: all(s.journal.poll().starts.get(k) for k in held.keys), 30
        ), "the long tasks did not start"
        label_of = {s.fleet.pid_of(label): label for label in ("w1", "w2")}
        counts = {label: 0 for label in ("w1", "w2")}
        for key in held.keys:
            counts[label_of[s.journal.starts[key][0].pid]] += 1
        victim = max(counts, key=lambda label: counts[label])
        pid, killed = s.fleet.kill9(victim)
        s.journal.poll()
        orphans = [
            k
            for k in held.keys
            if s.journal.starts[k][0].pid == pid and not s.journal.finishes.get(k)
        ]
        assert orphans, "the long tasks ended before the kill: raise hold_seconds"

        traffic = s.producer("task", profile.tasks // 3)
        production = asyncio.create_task(traffic.run(patience=30))

        def rerun(key: str) -> float | None:
            later = [e.at for e in s.journal.starts[key] if e.pid != pid]
            return min(later) - killed if later else None

        budget = profile.redelivery + RERUN_SLACK

        def all_rerun() -> bool:
            s.journal.poll()
            return all(rerun(k) is not None for k in orphans)

        await s.until(all_rerun, budget + 10)
        await production
        expected = set(held.keys) | set(traffic.confirmed)
        drained = await s.drain(expected, profile.drain_timeout)
        outcome = await s.outcome(expected, drained=drained, deaths={pid: killed})
        delays = [rerun(k) for k in orphans]
        slowest = None if None in delays else max(d for d in delays if d is not None)
        outcome.details.append(
            f"killed {victim} holding {len(orphans)}, slowest re-run "
            + ("never" if slowest is None else f"{slowest:.1f}s")
            + f" (bar {budget:g}s)"
        )
        outcome.check(
            slowest is not None and slowest <= budget,
            f"a killed worker's task re-ran after {slowest:.1f}s > {budget:g}s"
            if slowest is not None
            else f"a killed worker's task never re-ran: {orphans}",
        )
        s.verdict(outcome)


async def test_task_that_exits_its_process(profile: Profile, tmp_path: Path) -> None:
    """A task that calls ``os._exit(1)`` kills whichever worker runs it. A
    supervisor restarts the dead workers; the task must land in the dead-letter
    stream after at most ``max_deliveries`` runs, and every other task completes."""
    limit = profile.max_deliveries
    env = {"DOCKET_WORKER_MAX_DELIVERIES": str(limit)}
    async with Scenario("os-exit-task", profile, tmp_path, worker_env=env) as s:
        await s.start_workers("w1", "w2")
        good = s.producer("task", profile.tasks // 2)
        good.rate = profile.rate / 3  # spread the good work over the crash loop
        production = asyncio.create_task(good.run(patience=60))
        assert await s.flowing(set(good.keys), 0.1), "no traffic before the crash"
        bomb = "crash-bomb"
        await s.docket.add(crash, key=bomb)()

        async def settled() -> bool:
            s.fleet.restart_dead()  # the supervisor's round
            finished = s.journal.poll().finished(set(good.keys))
            if not production.done() or finished < len(good.keys):
                return False
            if not mentions(await s.dead_letters(), bomb):
                return False
            return await s.backlog() == (0, 0)

        deadline = (limit + 1) * (profile.redelivery + RERUN_SLACK) + 10
        drained = await s.until(settled, deadline)
        production.cancel()
        runs = s.journal.poll().starts.get(bomb, [])
        deaths = {e.pid: e.at for e in runs}
        outcome = await s.outcome(
            set(good.confirmed), drained=drained, deaths=deaths, supervised=True
        )
        dead = mentions(await s.dead_letters(), bomb)
        collateral = {k for k in good.keys if killed_in(s, k, set(deaths))}
        outcome.details.append(
            f"good tasks caught in a crashing process {len(collateral)} "
            f"({len(collateral & set(outcome.reconciliation.lost))} of them lost)"
        )
        outcome.details.append(
            f"crashing task ran {len(runs)} times (limit {limit}), "
            + ("dead-lettered" if dead else "NOT dead-lettered")
        )
        outcome.check(len(runs) <= limit, f"ran {len(runs)} times > {limit}")
        outcome.check(dead, f"the crashing task is not in {s.docket.key('dead')}")
        s.verdict(outcome)
