"""Heartbeats (who is alive, which tasks it serves) and lease renewal."""

from __future__ import annotations

import logging
import time

from redis.exceptions import ConnectionError as RedisConnectionError

from .. import instrumentation as m
from .session import Session, every

logger = logging.getLogger("docket.worker")


async def heartbeat_loop(session: Session) -> None:
    docket, worker = session.docket, session.worker

    async def beat() -> None:
        try:
            await session.broker.heartbeat(
                worker.name,
                list(docket.tasks),
                docket.liveness_horizon,
                worker.concurrency,
            )
            ready, future = await session.broker.depths()
        except RedisConnectionError:
            m.REDIS_DISRUPTIONS.add(1, worker.labels())
            raise
        session.pulse.last_beat = time.monotonic()
        m.QUEUE_DEPTH.set(ready, docket.labels())
        m.SCHEDULE_DEPTH.set(future, docket.labels())

    await every(
        lambda: docket.heartbeat_interval.total_seconds(),
        session.stop,
        beat,
        "Heartbeat",
    )


async def deregister(session: Session) -> None:
    try:
        await session.broker.deregister(session.worker.name, list(session.docket.tasks))
    except Exception as error:
        logger.warning(
            "Could not remove worker %r's heartbeat: %s", session.worker.name, error
        )


async def lease_loop(session: Session) -> None:
    worker = session.worker

    async def renew() -> None:
        ids = [mid for mid in session.by_message if mid]
        try:
            await session.broker.renew(worker.name, ids)
        except Exception:
            logger.warning("Failed to renew leases", exc_info=True)

    await every(
        lambda: worker.redelivery_timeout.total_seconds() / 4,
        session.stop,
        renew,
        "Leases",
    )
