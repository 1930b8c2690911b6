"""Safeguard tasks and the worker lifecycle hook of ``ConcurrencyLimit`` (spec 5.14).

A parked execution K gets a safeguard task ``__safeguard__:K`` running
``_safeguard_wake`` one redelivery timeout later: it evicts stale holders of the
slot and wakes waiters, for the case where no holder is left to do it, and places
itself again while K stays parked. Waking K withdraws it. The lifecycle hook
registers ``_safeguard_wake`` and follows ``P:cancel:*`` so that a cancelled
waiter's entry and safeguard go at once (the wake would discard them anyway).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

from .._broker.admission import (
    SAFEGUARD_PREFIX,
    SAFEGUARD_TASK,
    SlotTimes,
    waiters_key,
)
from .._context import current_execution, current_worker
from .._handles import DocketHandle
from ._base import logger

__all__ = ["lifecycle", "schedule_safeguard"]


async def schedule_safeguard(
    docket: DocketHandle,
    parked_key: str,
    slot: str,
    max_concurrent: int,
    redelivery: float,
) -> None:
    """(Re)place the safeguard of ``parked_key``, due one redelivery timeout from now."""
    from ..execution import Execution

    if docket.tasks.get(SAFEGUARD_TASK) is not _safeguard_wake:
        docket.register(_safeguard_wake)  # also without the lifecycle hook
    when = datetime.now(timezone.utc) + timedelta(seconds=redelivery)
    safeguard = Execution(
        docket,
        _safeguard_wake,
        (),
        {"waiter_stream": waiters_key(slot), "max_concurrent": max_concurrent},
        SAFEGUARD_PREFIX + parked_key,
        when,
        1,
    )
    await safeguard.schedule(replace=True)


async def _safeguard_wake(waiter_stream: str, max_concurrent: int) -> None:
    """Evict stale holders of a slot and wake its waiters; again later while parked."""
    execution = current_execution.get()
    worker = current_worker.get()
    redelivery = worker.redelivery_timeout.total_seconds()
    parked_key = execution.key.removeprefix(SAFEGUARD_PREFIX)
    slot = waiter_stream.removesuffix(":waiters")
    broker = execution.docket.broker
    _, still_parked = await broker.concurrency_release(
        slot, "", max_concurrent, SlotTimes(time.time(), redelivery), parked_key
    )
    if still_parked:
        await schedule_safeguard(
            execution.docket, parked_key, slot, max_concurrent, redelivery
        )


@asynccontextmanager
async def lifecycle(docket: DocketHandle) -> AsyncGenerator[None]:
    """Per worker session: register the safeguard task, follow cancellations."""
    docket.register(_safeguard_wake)
    cleaner = asyncio.ensure_future(_clean_cancelled_waiters(docket))
    try:
        yield
    finally:
        cleaner.cancel()
        await asyncio.gather(cleaner, return_exceptions=True)


async def _clean_cancelled_waiters(docket: DocketHandle) -> None:
    """Follow ``P:cancel:*``: a cancelled waiter's entry and safeguard go at once."""
    broker = docket.broker
    while True:
        pubsub: Any = broker.subscriber()
        try:
            await pubsub.psubscribe(docket.keyspace.cancel_pattern)
            while True:
                message = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=1.0
                )
                if message is None or message["type"] != "pmessage":
                    await asyncio.sleep(0)
                    continue
                data = message["data"]
                key = data.decode() if isinstance(data, bytes) else str(data)
                await broker.concurrency_cleanup(key)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # reconnect; the wake check still guards
            logger.warning("Concurrency cancel listener failed: %s", error)
            await asyncio.sleep(1.0)
        finally:
            await pubsub.aclose()
