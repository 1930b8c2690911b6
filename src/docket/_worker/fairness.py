"""FairShare on the worker's side: which registered tasks share their slots fairly,
and the release that keeps their backlogs moving.

Releases mostly happen inside scripts a worker runs anyway: schedule.lua releases
when a task is added, claim.lua when a released task is claimed (one for one, up to
the window). A worker that serves a FairShare task also releases every
``FAIR_RELEASE_INTERVAL``, telling its part of the window first (``window``; the
window is the sum over the workers heard from within the docket's liveness
horizon), so a window that tasks which left the stream without a claim (cancelled,
struck, paused) held shut opens again without waiting for the next add. That
release also ends a broken task at the head of a backlog (its parked message or run
record gone or overwritten): dead-lettered, logged at ERROR. A worker without
FairShare tasks runs none of this.
"""

from __future__ import annotations

import time

from .. import _defaults
from ..annotations import fair_share_parameter
from . import report
from .claiming import read_ahead
from .resilience import every
from .session import Session

WINDOW_CHECK = 0.02  # seconds between looks at this worker's window (no Redis)


def fair_tasks(session: Session) -> list[str]:
    """The names of the registered tasks with a FairShare parameter."""
    names: list[str] = []
    for name, function in list(session.docket.tasks.items()):
        try:
            if fair_share_parameter(function) is not None:
                names.append(name)
        except TypeError:  # refused at registration; never placed fairly
            continue
    return sorted(names)


def window(session: Session) -> int:
    """This worker's part of the window of a FairShare task (how many released
    tasks may wait unclaimed in the stream; the window is the sum of the parts of
    the workers serving the task, see fair_release.lua). While tasks are short:
    this worker's slots and what it reads ahead
    (a claim then finds work at hand, and a new value waits behind a few short
    tasks at most); while they are long (or not known yet): a fifth of the slots,
    at least 2, so a new value's first task waits behind little more than what
    already runs."""
    concurrency = session.worker.concurrency
    ahead = read_ahead(session)
    if ahead:
        return concurrency + ahead
    return max(2, concurrency // 5)


async def fairness_loop(session: Session) -> None:
    """Release the backlogs of this worker's FairShare tasks every
    ``FAIR_RELEASE_INTERVAL``, and at once (within ``WINDOW_CHECK``) when this
    worker's window changes (its tasks turned short or long)."""
    tasks = fair_tasks(session)
    if not tasks:
        return
    told: list[int] = []
    due = 0.0

    async def release() -> None:
        nonlocal due
        wanted = window(session)
        if told and told[-1] == wanted and time.monotonic() < due:
            return
        done = await session.broker.fair.release(
            tasks,
            wanted,
            session.worker.name,
            session.docket.ttl_seconds,
            session.docket.liveness_horizon,
        )
        for reason, count in done.dead_lettered.items():
            report.backlog_dead_lettered(session, reason, count)
        told[:] = [wanted]
        due = time.monotonic() + _defaults.FAIR_RELEASE_INTERVAL.total_seconds()

    await every(session, lambda: WINDOW_CHECK, release, "release fair-share backlogs")


__all__ = ["fair_tasks", "fairness_loop", "window"]
