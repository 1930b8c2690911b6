"""The listener: cancel signals for running tasks, and wake-ups for the scheduler."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoPermissionError

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


class SubscriptionRefused(RuntimeError):
    """The Redis user may not subscribe to the worker's channels (an ACL rule is
    missing); raised when a worker starts, instead of retrying for ever."""


async def subscribe(session: Session) -> Any:
    """A pub/sub connection subscribed to cancel signals and wake-ups (the wake
    channel is ``P:cancel:wake``, so one pattern covers both).

    Redis checks PSUBSCRIBE patterns *literally* against a user's channel rules,
    so a user granted only ``&P:*`` (spec 9.11) may not subscribe ``P:cancel:*``;
    then the listener subscribes ``P:*`` and keeps only what it needs. A user
    allowed neither gets ``SubscriptionRefused`` naming the rule to add.
    """
    keys = session.docket.keyspace
    patterns = [keys.cancel_pattern, keys.key("*")]
    for pattern in patterns:
        pubsub: Any = session.broker.subscriber()
        try:
            await pubsub.psubscribe(pattern)
            while True:
                message = await pubsub.get_message(timeout=1.0)
                if message is not None and message["type"] == "psubscribe":
                    return pubsub
        except NoPermissionError as error:
            await pubsub.aclose()
            if pattern == patterns[-1]:
                raise SubscriptionRefused(
                    f"Redis refused the worker's subscription to {patterns[0]!r} "
                    f"({error}): its user needs the channel rule "
                    f"'&{patterns[0]}' (or '&{patterns[1]}')"
                ) from error
        except BaseException:
            await pubsub.aclose()
            raise
    raise AssertionError("unreachable")  # pragma: no cover


async def _listen_once(session: Session, pubsub: Any | None = None) -> None:
    keys = session.docket.keyspace
    cancel_prefix = keys.cancel_channel("")
    subscription: Any = pubsub if pubsub is not None else await subscribe(session)
    try:
        session.listening.set()
        while not session.stop.is_set():
            message = await subscription.get_message(
                ignore_subscribe_messages=True, timeout=1.0
            )
            if message is None:
                await asyncio.sleep(0)
                continue
            channel = message["channel"]
            channel = channel.decode() if isinstance(channel, bytes) else channel
            if channel == keys.wake:
                session.wake_scheduler.set()
            elif channel.startswith(cancel_prefix):
                data = message["data"]
                key = data.decode() if isinstance(data, bytes) else data
                _on_cancel(session, key)
                await _run_hooks(session, key)
    finally:
        await subscription.aclose()


async def listener_loop(session: Session, first: Any | None = None) -> None:
    """Keep the subscription up (starting with ``first``, a connection ``subscribe``
    returned); resubscribe one second after any failure."""
    retry = _defaults.LISTENER_RETRY.total_seconds()
    while not session.stop.is_set():
        try:
            pubsub, first = first, None
            await _listen_once(session, pubsub)
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
