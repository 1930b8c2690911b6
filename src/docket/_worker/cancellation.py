"""The listener: cancel signals for running tasks, wake-ups for the scheduler, and
word of paused or resumed task types."""

from __future__ import annotations

import asyncio
import logging

from .._redis.faults import Backoff, Fault
from .resilience import backoff_for, pause, reached, report_fault
from .session import Session

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


async def _listen_once(session: Session, backoff: Backoff) -> None:
    async with session.broker.signals.open() as signals:
        session.listening.set()
        session.pauses_changed.set()  # a pause may have been missed meanwhile
        session.lanes = True  # and a lane's first task: the next read dispatches
        reached(session, "listen for cancellations and wake-ups")
        backoff.reset()
        while not session.stop.is_set():
            signal = await signals.next(timeout=1.0)
            if signal is None:
                continue
            if signal.kind == "cancel":
                _on_cancel(session, signal.key)
                await _run_hooks(session, signal.key)
            elif signal.kind == "paused":
                session.pauses_changed.set()
            elif signal.kind == "lanes":
                session.lanes = True
            else:
                session.wake_scheduler.set()


async def listener_loop(session: Session) -> None:
    """Keep the subscription up; subscribe again (after the backoff) on any failure.

    While it is down the scheduler still polls every ``scheduling_resolution`` and
    cancel signals are missed; running tasks are then only stopped by their
    settlement, which never overwrites a ``cancelled`` record."""
    backoff = backoff_for(session)
    while not session.stop.is_set():
        try:
            await _listen_once(session, backoff)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            kind = report_fault(session, "listen for cancellations and wake-ups", error)
            if kind is Fault.PERMISSION and not session.listening.is_set():
                session.refused = error  # start-up fails fast on this
        session.wake_scheduler.set()  # a wake-up may have been missed meanwhile
        if not await pause(session, backoff):
            return
