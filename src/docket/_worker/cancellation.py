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


async def _subscribe(session: Session) -> Any:
    """A pub/sub connection subscribed to cancel signals and wake-ups.

    Redis checks PSUBSCRIBE patterns *literally* against a user's channel rules,
    so a user granted only ``&P:*`` (spec 9.11) may not subscribe ``P:cancel:*``;
    then the listener subscribes ``P:*`` and keeps only the cancel signals.
    """
    keys = session.docket.keyspace
    patterns = [keys.cancel_pattern, keys.key("*")]
    for pattern in patterns:
        pubsub: Any = session.broker.subscriber()
        try:
            await pubsub.psubscribe(pattern)
            await pubsub.subscribe(keys.wake)
            confirmed = 0
            while confirmed < 2:
                message = await pubsub.get_message(timeout=1.0)
                if message is not None and message["type"] in (
                    "subscribe",
                    "psubscribe",
                ):
                    confirmed += 1
            return pubsub
        except NoPermissionError:
            await pubsub.aclose()
            if pattern == patterns[-1]:
                raise
        except BaseException:
            await pubsub.aclose()
            raise
    raise AssertionError("unreachable")  # pragma: no cover


async def _listen_once(session: Session) -> None:
    keys = session.docket.keyspace
    cancel_prefix = keys.cancel_channel("")
    pubsub = await _subscribe(session)
    try:
        session.listening.set()
        while not session.stop.is_set():
            message = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=1.0
            )
            if message is None:
                await asyncio.sleep(0)
                continue
            channel = message["channel"]
            channel = channel.decode() if isinstance(channel, bytes) else channel
            if message["type"] == "pmessage":
                if channel.startswith(cancel_prefix):
                    data = message["data"]
                    key = data.decode() if isinstance(data, bytes) else data
                    _on_cancel(session, key)
                    await _run_hooks(session, key)
            elif channel == keys.wake:
                session.wake_scheduler.set()
    finally:
        await pubsub.aclose()


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
