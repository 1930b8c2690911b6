"""How every loop of a worker session survives faults: one helper, one policy.

A failed tick is counted in ``docket_redis_disruptions`` when Redis was at fault
and followed by a pause that starts at the worker's ``reconnection_delay`` and
doubles, with jitter, up to ``BACKOFF_CAP``; the first success resets it. No loop
has an ``except`` of its own.

What is logged: Redis being unavailable goes to the process's ``OutageLog`` for
the URL (one WARNING when the outage starts, a reminder a minute, one INFO when
it ends: ``_redis/outages.py``); a permission error is logged at ERROR, and
anything that is not a Redis error at ERROR with its traceback, each time.

While Redis cannot be reached at all, one PING every ``REDIS_PROBE_INTERVAL``
(``probe_loop``) watches for its return and then ends every loop's pause at
once (``Session.back``): the loops back off, yet the worker resumes within a
fraction of a second of Redis answering, whatever the outage's length.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .. import _defaults
from .. import instrumentation as m
from .._redis.faults import Backoff, Fault, classify
from .session import Session, wait_for

PROBE_INTERVAL = _defaults.REDIS_PROBE_INTERVAL.total_seconds()

logger = logging.getLogger("docket.worker")

T = TypeVar("T")


def backoff_for(session: Session) -> Backoff:
    base = session.worker.reconnection_delay.total_seconds()
    return Backoff(base, max(base, _defaults.BACKOFF_CAP.total_seconds()))


def report_fault(session: Session, what: str, error: BaseException) -> Fault:
    """Log and count one failure to do ``what`` (an infinitive: "renew leases",
    logged as "Failed to renew leases: ..."); returns its kind."""
    kind = classify(error)
    session.note_trouble()
    if kind is Fault.BUG:
        logger.error("Failed to %s; retrying", what, exc_info=error)
        return kind
    m.REDIS_DISRUPTIONS.add(1, session.worker.labels())
    detail = f"{type(error).__name__}: {error}"
    if kind is Fault.PERMISSION:
        logger.error("Failed to %s: refused by Redis (%s); retrying", what, detail)
        return kind
    # Every failure at DEBUG; the outage log says it once at WARNING.
    logger.debug("Failed to %s: Redis is unavailable (%s); retrying", what, detail)
    if session.outage is not None:
        session.outage.failed(what, error)
    if unreachable(error):
        if session.back.is_set():  # a new outage: pauses wait for its end
            session.back = asyncio.Event()
        session.unreachable.set()
    return kind


def unreachable(error: BaseException) -> bool:
    """Whether ``error`` says Redis could not be reached at all (as opposed to
    Redis answering with a refusal: out of memory, read only, loading...)."""
    grouped = getattr(error, "exceptions", None)
    if grouped:
        return any(unreachable(inner) for inner in grouped)
    return isinstance(error, (ConnectionError, TimeoutError, OSError)) or isinstance(
        error, (RedisConnectionError, RedisTimeoutError, asyncio.TimeoutError)
    )


def reached(session: Session, what: str) -> None:
    """``what`` succeeded: part of the end of an outage, if one is under way."""
    outage = session.outage
    if outage is not None and outage.down:
        outage.succeeded(what)


async def probe_loop(session: Session) -> None:
    """While Redis is unreachable, PING it every ``PROBE_INTERVAL`` (the first
    one an interval after the failure, so loops that fail at once again retry at
    most that often); once it answers, set ``session.back`` so that every loop
    waiting out a backoff tries again at once."""
    while not session.stop.is_set():
        if not await _either(session.unreachable, session.stop, None):
            return
        session.unreachable.clear()
        back = session.back
        while not back.is_set():
            if await wait_for(session.stop, PROBE_INTERVAL):
                return
            try:
                await asyncio.wait_for(session.broker.ping(), PROBE_INTERVAL * 4)
            except asyncio.CancelledError:
                raise
            except Exception:  # still out: the loops' own failures are logged
                continue
            back.set()


async def pause_briefly(session: Session, delay: float) -> None:
    """Wait ``delay`` seconds, or until the probe finds Redis back (not cut short
    by a stop: what waits here must still be done)."""
    await _either(session.back, asyncio.Event(), delay)


async def _either(
    first: asyncio.Event, second: asyncio.Event, timeout: float | None
) -> bool:
    """Wait until ``first`` is set (True) or ``second`` or the timeout (False)."""
    if first.is_set():
        return True
    if second.is_set():
        return False
    one = asyncio.ensure_future(first.wait())
    two = asyncio.ensure_future(second.wait())
    try:
        await asyncio.wait([one, two], timeout=timeout, return_when="FIRST_COMPLETED")
    finally:
        one.cancel()
        two.cancel()
    return first.is_set()


async def pause(session: Session, backoff: Backoff, cap: float | None = None) -> bool:
    """Wait out the next backoff delay (at most ``cap``), or until the probe finds
    Redis back; False when stopping."""
    delay = backoff.next_delay()
    if cap is not None:
        delay = min(delay, cap)
    await _either(session.stop, session.back, delay)
    return not session.stop.is_set()


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
            result = await operation()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if classify(error) is Fault.BUG:
                raise
            report_fault(session, what, error)
            await pause_briefly(session, min(backoff.next_delay(), cap))
            continue
        reached(session, what)
        return result


async def keep_running(
    session: Session, what: str, body: Callable[[], Awaitable[None]]
) -> None:
    """Run ``body`` until the session stops, starting it again after any failure."""
    backoff = backoff_for(session)
    while not session.stop.is_set():
        try:
            await body()
            reached(session, what)
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
        reached(session, what)
        backoff.reset()
        if await wait_for(session.stop, interval()):
            return


__all__ = [
    "backoff_for",
    "every",
    "keep_running",
    "pause",
    "pause_briefly",
    "probe_loop",
    "reached",
    "report_fault",
    "unreachable",
    "until_done",
]
