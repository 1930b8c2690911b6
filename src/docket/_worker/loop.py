"""The main loop: read as many messages as there are free slots, claim, dispatch."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .. import _codec
from .._broker import Delivery
from .._message import identity
from ..execution import Execution, ExecutionState
from . import report, runner
from .session import Running, Session


def _decode(session: Session, delivery: Delivery) -> Execution | Exception:
    fields = delivery.fields
    name = identity(fields)[1]
    function: Any = session.docket.tasks.get(name) or session.worker.fallback_task
    try:
        return Execution.from_fields(
            session.docket, fields, function, delivery.redelivered, delivery.message_id
        )
    except Exception as error:
        return error


async def _settle_unreadable(
    session: Session, delivery: Delivery, error: Exception
) -> None:
    """A payload that cannot be loaded ends FAILED and acknowledged: it never poisons."""
    key, function_name, generation = identity(delivery.fields)
    report.unreadable(session, key, error)
    if not key:
        await session.broker.acknowledge([delivery.message_id])
        return
    placeholder = Execution(
        session.docket,
        session.worker.fallback_task,
        (),
        {},
        key,
        _codec.now(),
        1,
        function_name=function_name,
        generation=generation,
        message_id=delivery.message_id,
    )
    held = session.hold(placeholder)
    text = f"Could not load the task's payload: {_codec.error_text(error)}"
    session.settle(held, placeholder.settlement(ExecutionState.FAILED, text), False)


async def _start(
    session: Session, deliveries: list[Delivery], executions_group: Any
) -> None:
    worker = session.worker
    claimable: list[Execution] = []
    for delivery in deliveries:
        decoded = _decode(session, delivery)
        if isinstance(decoded, Exception):
            await _settle_unreadable(session, delivery, decoded)
            continue
        if session.docket.strike_list.is_stricken(decoded):
            held = session.hold(decoded)
            report.struck(session, decoded)
            session.settle(held, decoded.settlement(ExecutionState.CANCELLED), False)
            continue
        claimable.append(decoded)
    if not claimable:
        return
    held_all = [session.hold(execution) for execution in claimable]
    batch = [
        (e.key, e.generation, e.message_id or b"", e.redelivered) for e in claimable
    ]
    started = _codec.now()
    try:
        claimed = await session.broker.claim(worker.name, _codec.iso(started), batch)
    except BaseException:  # unclaimed: the messages stay pending for redelivery
        for held in held_all:
            session.release(held)
        raise
    for held, ok in zip(held_all, claimed, strict=True):
        execution = held.execution
        if not ok:
            report.superseded(session, execution)
            session.release(held)
            continue
        execution.mark_claimed(worker.name, started)
        worker.note_claim(execution.key)
        held.task = executions_group.create_task(runner.run(session, held))


def _reclaim_interval(session: Session) -> float:
    return min(session.worker.redelivery_timeout.total_seconds() / 4, 1.0)


async def main_loop(session: Session, executions_group: Any) -> None:
    """Claim and dispatch until stopped (or, unless forever, until no work remains)."""
    worker = session.worker
    block_ms = max(int(worker.minimum_check_interval.total_seconds() * 1000), 1)
    min_idle_ms = int(worker.redelivery_timeout.total_seconds() * 1000)
    next_reclaim = 0.0
    while not session.stop.is_set():
        if session.free_slots <= 0:
            session.slot_freed.clear()
            await _wait_for_slot(session)
            continue
        deliveries: list[Delivery] = []
        count = min(session.free_slots, worker.message_batch)
        if time.monotonic() >= next_reclaim:
            next_reclaim = time.monotonic() + _reclaim_interval(session)
            deliveries = await session.broker.reclaim(worker.name, count, min_idle_ms)
        if not deliveries:
            deliveries = await session.broker.read(worker.name, count, block_ms)
        if deliveries:
            await _start(session, deliveries, executions_group)
            continue
        if not session.forever and session.is_idle():
            if not await session.broker.pending_work():
                return


async def _wait_for_slot(session: Session) -> None:
    stop = asyncio.ensure_future(session.stop.wait())
    freed = asyncio.ensure_future(session.slot_freed.wait())
    try:
        await asyncio.wait([stop, freed], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
        freed.cancel()


__all__ = ["Running", "main_loop"]
