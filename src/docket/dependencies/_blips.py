"""Reads and writes a dependency makes while its task starts or runs, tried
again through a transient Redis fault (a restart, a dropped connection) instead
of failing the task: ``Signal``, ``Suspend``, ``Checkpoint`` and ``Parents``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import RedisError

from .._redis.faults import Backoff, Fault, classify
from ._context import current_worker

T = TypeVar("T")


async def through_blips(call: Callable[[], Awaitable[T]]) -> T:
    """``call()``, tried again while Redis fails it with a transient fault (a
    restart, a dropped connection), backing off up to a second between tries,
    for as long as the worker's lease lasts (its redelivery timeout); then the
    fault is raised. Every call given here may be repeated safely."""
    worker = current_worker.get(None)
    patience = worker.redelivery_timeout.total_seconds() if worker else 30.0
    deadline, backoff = time.monotonic() + patience, Backoff(0.05, 1.0)
    while True:
        try:
            return await call()
        except (RedisError, ConnectionError, TimeoutError) as error:
            if classify(error) is not Fault.TRANSIENT or time.monotonic() > deadline:
                raise
        # (jittered: the many tasks a restart caught do not all try again at once)
        await asyncio.sleep(backoff.next_delay())
