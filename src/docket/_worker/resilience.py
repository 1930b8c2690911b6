"""How every loop of a worker session survives faults: one helper, one policy.

A failed tick is logged (WARNING naming the error for Redis faults, ERROR for
permission errors and for anything that is not a Redis error), counted in
``docket_redis_disruptions`` when Redis was at fault, and followed by a pause that
starts at the worker's ``reconnection_delay`` and doubles, with jitter, up to
``BACKOFF_CAP``; the first success resets it. No loop has an ``except`` of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from .. import _defaults
from .. import instrumentation as m
from .._redis.faults import Backoff, Fault, classify
from .session import Session, wait_for

logger = logging.getLogger("docket.worker")

T = TypeVar("T")


def backoff_for(session: Session) -> Backoff:
    base = session.worker.reconnection_delay.total_seconds()
    return Backoff(base, max(base, _defaults.BACKOFF_CAP.total_seconds()))


def report_fault(session: Session, what: str, error: BaseException) -> Fault:
    """Log and count one failure to do ``what`` (an infinitive: "renew leases",
    logged as "Failed to renew leases: ..."); returns its kind."""
    kind = classify(error)
    if kind is Fault.BUG:
        logger.error("Failed to %s; retrying", what, exc_info=error)
        return kind
    m.REDIS_DISRUPTIONS.add(1, session.worker.labels())
    detail = f"{type(error).__name__}: {error}"
    if kind is Fault.PERMISSION:
        logger.error("Failed to %s: refused by Redis (%s); retrying", what, detail)
    else:
        logger.warning(
            "Failed to %s: Redis is unavailable (%s); retrying", what, detail
        )
    return kind


async def pause(session: Session, backoff: Backoff, cap: float | None = None) -> bool:
    """Wait out the next backoff delay (at most ``cap``); False when stopping."""
    delay = backoff.next_delay()
    if cap is not None:
        delay = min(delay, cap)
    return not await wait_for(session.stop, delay)


async def until_done(
    session: Session, what: str, operation: Callable[[], Awaitable[T]]
) -> T:
    """``operation()``'s result, trying again through Redis faults (with backoff,
    never pausing longer than a lease period) until it succeeds: the execution
    keeps its slot and its lease meanwhile. Errors that are not Redis faults
    (a result that cannot be stored, say) are raised at once."""
    backoff = backoff_for(session)
    cap = session.worker.redelivery_timeout.total_seconds() / 4
    while True:
        try:
            return await operation()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if classify(error) is Fault.BUG:
                raise
            report_fault(session, what, error)
            await asyncio.sleep(min(backoff.next_delay(), cap))


async def keep_running(
    session: Session, what: str, body: Callable[[], Awaitable[None]]
) -> None:
    """Run ``body`` until the session stops, starting it again after any failure."""
    backoff = backoff_for(session)
    while not session.stop.is_set():
        try:
            await body()
            return
        except asyncio.CancelledError:
            raise
        except Exception as error:
            report_fault(session, what, error)
            if not await pause(session, backoff):
                return


async def every(
    session: Session,
    interval: Callable[[], float],
    tick: Callable[[], Awaitable[object]],
    what: str,
) -> None:
    """Run ``tick`` every ``interval()`` seconds until the session stops; after a
    failure the next try follows the backoff, but never waits longer than the
    interval (leases and heartbeats must resume as soon as Redis is back)."""
    backoff = backoff_for(session)
    while not session.stop.is_set():
        try:
            await tick()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            report_fault(session, what, error)
            if not await pause(session, backoff, interval()):
                return
            continue
        backoff.reset()
        if await wait_for(session.stop, interval()):
            return


__all__ = [
    "backoff_for",
    "every",
    "keep_running",
    "pause",
    "report_fault",
    "until_done",
]
