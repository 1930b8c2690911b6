"""The main loop: read as many messages as there are free slots, claim, dispatch."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .. import _codec, _defaults
from .._broker import Delivery, Sweep
from ..execution import ExecutionState
from . import report, runner
from .intake import take_in
from .resilience import keep_running
from .session import Running, Session


async def _start(
    session: Session,
    deliveries: list[Delivery],
    executions_group: Any,
    suspects: frozenset[bytes] = frozenset(),
) -> None:
    worker = session.worker
    intake = take_in(session, deliveries)
    if intake.rejected:
        await session.broker.dead_letter(
            [rejection for rejection, _ in intake.rejected],
            worker.name,
            session.docket.ttl_seconds,
            session.docket.dead_letter_limit,
        )
        for rejection, delivery in intake.rejected:
            report.dead_lettered(session, rejection, delivery.fields)
    for execution in intake.struck:
        held = session.hold(execution)
        report.struck(session, execution)
        session.settle(held, execution.settlement(ExecutionState.CANCELLED), False)
    claimable = intake.runnable
    if not claimable:
        return
    held_all = [session.hold(execution) for execution in claimable]
    for held in held_all:
        held.suspect = held.execution.message_id in suspects
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


async def _sweep(session: Session, count: int) -> Sweep:
    """Messages abandoned for ``redelivery_timeout`` (see ``_broker/sweep.py``):
    never one this worker holds, and at most one suspect at a time."""
    worker = session.worker
    return await session.broker.reclaim(
        worker.name,
        count,
        int(worker.redelivery_timeout.total_seconds() * 1000),
        holding=set(session.by_message),
        take_suspect=not session.suspect_running,
        quarantine=_defaults.QUARANTINE_DELIVERIES,
        limit=worker.max_deliveries,
    )


async def _loop(session: Session, executions_group: Any) -> None:
    worker = session.worker
    wanted_ms = max(int(worker.minimum_check_interval.total_seconds() * 1000), 1)
    block_ms = session.broker.backend.longest_block_ms(wanted_ms)
    next_sweep = 0.0
    while not session.stop.is_set():
        if session.free_slots <= 0:
            session.slot_freed.clear()
            await _wait_for_slot(session)
            continue
        count = min(session.free_slots, worker.message_batch)
        if time.monotonic() >= next_sweep:
            next_sweep = time.monotonic() + _reclaim_interval(session)
            sweep = await _sweep(session, count)
            if sweep.deliveries:
                await _start(
                    session, sweep.deliveries, executions_group, sweep.suspects
                )
                continue
        deliveries = await session.broker.read(worker.name, count, block_ms)
        if deliveries:
            await _start(session, deliveries, executions_group)
            continue
        if not session.forever and session.is_idle():
            if not await session.broker.pending_work():
                return


async def main_loop(session: Session, executions_group: Any) -> None:
    """Claim and dispatch until stopped (or, unless forever, until no work remains);
    a Redis fault pauses the loop (with backoff), it never ends it."""
    await keep_running(
        session, "Reading tasks", lambda: _loop(session, executions_group)
    )


async def _wait_for_slot(session: Session) -> None:
    stop = asyncio.ensure_future(session.stop.wait())
    freed = asyncio.ensure_future(session.slot_freed.wait())
    try:
        await asyncio.wait([stop, freed], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
        freed.cancel()


__all__ = ["Running", "main_loop"]
