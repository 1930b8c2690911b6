"""Safeguard tasks and the worker lifecycle hook of ``ConcurrencyLimit``.

A parked execution K gets a safeguard task ``__safeguard__:K`` running
``_safeguard_wake`` one redelivery timeout later: it evicts stale holders of the
slot and wakes waiters, for the case where no holder is left to do it, and places
itself again while K stays parked. Waking K withdraws it. The lifecycle hook
registers ``_safeguard_wake`` and adds a cancel hook to the worker's one cancel
listener, so that a cancelled waiter's entry and safeguard go at once (the wake
would discard them anyway).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from datetime import timedelta

from .. import _clock
from .._broker.admission import SAFEGUARD_PREFIX, SAFEGUARD_TASK, SlotTimes
from .._handles import DocketHandle, WorkerHandle
from .._keys import waiters_key
from ._context import current_execution, current_worker

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
    when = _clock.utcnow() + timedelta(seconds=redelivery)
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
    _, still_parked = await broker.admission.concurrency_release(
        slot, "", max_concurrent, SlotTimes(_clock.time(), redelivery), parked_key
    )
    if still_parked:
        await schedule_safeguard(
            execution.docket, parked_key, slot, max_concurrent, redelivery
        )


@asynccontextmanager
async def lifecycle(docket: DocketHandle, worker: WorkerHandle) -> AsyncGenerator[None]:
    """Per worker session: register the safeguard task, and drop a cancelled
    waiter's entry and safeguard at once (through the worker's cancel listener)."""
    docket.register(_safeguard_wake)

    async def drop_cancelled_waiter(key: str) -> None:
        await docket.broker.admission.concurrency_cleanup(key)

    worker.cancel_hooks.append(drop_cancelled_waiter)
    try:
        yield
    finally:
        worker.cancel_hooks.remove(drop_cancelled_waiter)
