"""The listener: cancel signals for running tasks, and wake-ups for the scheduler."""

from __future__ import annotations

import asyncio
import logging

from redis.exceptions import ConnectionError as RedisConnectionError

from .. import _defaults
from .. import instrumentation as m
from .session import Session, wait_for

logger = logging.getLogger("docket.worker")


def _on_cancel(session: Session, key: str) -> None:
    held = session.running.get(key)
    if held is None or held.task is None or held.task.done():
        return
    logger.info("Cancelling running task %r", key)
    held.cancel_requested = True
    held.task.cancel()


async def _run_hooks(session: Session, key: str) -> None:
    """The worker's cancel hooks (e.g. dropping a parked ConcurrencyLimit waiter)."""
    for hook in list(session.worker.cancel_hooks):
        try:
            await hook(key)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            logger.warning("Handling the cancellation of %r failed: %s", key, error)


async def _listen_once(session: Session) -> None:
    async with session.broker.worker_signals() as signals:
        session.listening.set()
        while not session.stop.is_set():
            signal = await signals.next(timeout=1.0)
            if signal is None:
                continue
            if signal.kind == "cancel":
                _on_cancel(session, signal.key)
                await _run_hooks(session, signal.key)
            else:
                session.wake_scheduler.set()


async def listener_loop(session: Session) -> None:
    """Keep the subscription up; resubscribe one second after any failure."""
    retry = _defaults.LISTENER_RETRY.total_seconds()
    while not session.stop.is_set():
        try:
            await _listen_once(session)
        except asyncio.CancelledError:
            raise
        except RedisConnectionError as error:
            m.REDIS_DISRUPTIONS.add(1, session.worker.labels())
            logger.warning("Cancellation listener lost its connection: %s", error)
        except Exception:
            logger.warning("Cancellation listener failed", exc_info=True)
        session.wake_scheduler.set()  # a wake-up may have been missed meanwhile
        if await wait_for(session.stop, retry):
            return
