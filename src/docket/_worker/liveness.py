"""Heartbeats (who is alive, which tasks it serves) and lease renewal."""

from __future__ import annotations

import logging
import time

from .. import instrumentation as m
from .pauses import follow
from .resilience import every
from .session import Session

logger = logging.getLogger("docket.worker")


async def heartbeat_loop(session: Session) -> None:
    docket, worker = session.docket, session.worker

    async def beat() -> None:
        await session.broker.workers.heartbeat(
            worker.name,
            list(docket.tasks),
            docket.liveness_horizon,
            worker.concurrency,
        )
        session.pulse.last_beat = time.monotonic()  # Redis heard us: healthy
        ready, future, marks = await session.broker.pauses.depths_and_marks()
        follow(session, marks)  # in case a pause signal was missed
        m.QUEUE_DEPTH.set(ready, docket.labels())
        m.SCHEDULE_DEPTH.set(future, docket.labels())

    await every(
        session,
        lambda: docket.heartbeat_interval.total_seconds(),
        beat,
        "send a heartbeat",
    )


async def deregister(session: Session) -> None:
    try:
        await session.broker.workers.deregister(
            session.worker.name, list(session.docket.tasks)
        )
    except Exception as error:
        logger.warning(
            "Could not remove worker %r's heartbeat: %s", session.worker.name, error
        )


async def lease_loop(session: Session) -> None:
    """Renew the leases of every message held, each renewal interval. After
    trouble reaching Redis, a renewal that gets through (a PING when nothing is
    held) starts the sweep's grace (``Session.note_contact``)."""
    worker = session.worker

    async def renew() -> None:
        held = [m for m in session.holding if m]
        asked = time.monotonic()
        if held:
            await session.broker.queue.renew(worker.name, held)
        elif session.troubled:
            await session.broker.ping()
        session.note_contact(time.monotonic() - asked, renewed=True)

    await every(session, lambda: session.renewal_interval, renew, "renew leases")
