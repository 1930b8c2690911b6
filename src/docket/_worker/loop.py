"""The main loop: read, claim, dispatch; and reading ahead while tasks are short.

The loop reads as many messages as there are free slots. While tasks typically
finish within ``READ_AHEAD_BELOW``, it also reads up to ``READ_AHEAD`` more
(never more than the concurrency), so that the next batch is in hand when the
current one settles: the settler then settles and claims in one round trip
(``settler.py``), and a worker at small concurrency keeps Redis busy. Messages
read ahead are this consumer's pending entries like the ones it runs: their
leases are renewed and the sweep leaves them alone (``Session.holding``); a
graceful stop runs them before the loop ends. They are taken in (decoded,
checked against strikes) only when claimed, so a strike issued meanwhile holds.
Long tasks read nothing ahead: no message waits behind a slow one while another
worker could run it.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from .. import _clock, _codec, _defaults
from .._broker import Delivery, ScheduleRequest, Sweep
from .._broker.dead import Rejection
from ..execution import Execution, ExecutionState
from . import report, runner
from .intake import BAD_RECORD, take_in
from .pauses import hold_paused
from .resilience import keep_running
from .session import FIRST_FINISH_POLL_MS, Running, Session, wait_for

READ_AHEAD_BELOW = _defaults.READ_AHEAD_BELOW.total_seconds()

Held = list[tuple[Running, Delivery]]


def read_ahead(session: Session) -> int:
    """How many messages beyond the free slots to hold: none while tasks are long."""
    if session.typical_duration > READ_AHEAD_BELOW:
        return 0
    return min(session.worker.concurrency, _defaults.READ_AHEAD)


def take_buffered(session: Session, count: int) -> list[Delivery]:
    taken, session.buffer = session.buffer[:count], session.buffer[count:]
    return taken


async def prepare(
    session: Session,
    deliveries: list[Delivery],
    suspects: frozenset[bytes] = frozenset(),
) -> Held:
    """Take ``deliveries`` in: dead-letter the refused, settle the struck, park
    the early, hold back those of paused types (in Redis), and hold the runnable
    ones (each with its delivery) ready to be claimed."""
    worker = session.worker
    if session.paused:  # nothing is read for this while no task type is paused
        deliveries = await hold_paused(session, deliveries)
    intake = take_in(session, deliveries)
    for execution, delivery in intake.early:
        await park_early(session, execution, delivery)
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
    by_id = {delivery.message_id: delivery for delivery in deliveries}
    prepared: Held = []
    for execution in intake.runnable:
        held = session.hold(execution)
        held.suspect = execution.message_id in suspects
        prepared.append((held, by_id[execution.message_id or b""]))
    return prepared


async def park_early(
    session: Session, execution: Execution, delivery: Delivery
) -> None:
    """Park a message found in the stream before its time until then (schedule.lua
    in repark mode: its bytes as they are, acknowledged in the same step), rather
    than run it early; a copy of a parked task merges with it."""
    request = ScheduleRequest(
        execution.key,
        execution.when.timestamp(),
        False,
        "repark",
        delivery.fields,
        delivery.message_id,
    )
    placed = await session.broker.place(request)
    report.parked_early(session, execution, placed == "OK")


def claims_of(prepared: Held) -> list[tuple[str, int, bytes, bool]]:
    return [
        (e.key, e.generation, e.message_id or b"", e.redelivered)
        for e in (held.execution for held, _ in prepared)
    ]


def launch(
    session: Session, prepared: Held, claimed: list[bool | None], started: datetime
) -> None:
    """Start every claimed execution; let go of the superseded ones and of those
    the claim dead-lettered (their run record is not a hash)."""
    worker = session.worker
    for (held, delivery), ok in zip(prepared, claimed, strict=True):
        execution = held.execution
        if ok is None:
            record = session.docket.keyspace.runs(execution.key)
            detail = f"its run record {record} is not a hash"
            rejection = Rejection(delivery.message_id, BAD_RECORD, detail)
            report.dead_lettered(session, rejection, delivery.fields)
            session.release(held)
            continue
        if not ok:
            report.superseded(session, execution)
            session.release(held)
            continue
        if session.executions is None:  # the main loop ended meanwhile: no
            session.release(held)  # one will run it here; the sweep will
            continue
        execution.mark_claimed(worker.name, started)
        worker.note_claim(execution.key)
        held.task = session.executions.create_task(runner.run(session, held))


def unclaim(session: Session, prepared: Held, keep: bool) -> None:
    """A claim that did not happen: free the slots; with ``keep`` the messages go
    back to the front of the read-ahead buffer (still ours, still leased) to be
    claimed again, else they wait in the pending list for the sweep."""
    for held, _ in prepared:
        session.release(held)
    if keep:
        session.buffer[:0] = [delivery for _, delivery in prepared]


async def _start(
    session: Session,
    deliveries: list[Delivery],
    suspects: frozenset[bytes] = frozenset(),
    keep: bool = True,
) -> None:
    try:
        prepared = await prepare(session, deliveries, suspects)
    except BaseException:
        if keep:  # still ours: claimed again (unless already held here)
            session.buffer[:0] = [
                d for d in deliveries if d.message_id not in session.by_message
            ]
        raise
    if not prepared:
        return
    started = _codec.now()
    try:
        claimed = await session.broker.claim(
            session.worker.name, _codec.iso(started), claims_of(prepared)
        )
    except BaseException:
        unclaim(session, prepared, keep)
        raise
    launch(session, prepared, claimed, started)


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
        holding=session.holding,
        take_suspect=not session.suspect_running,
        quarantine=_defaults.QUARANTINE_DELIVERIES,
        limit=worker.max_deliveries,
    )


async def _loop(session: Session) -> None:
    worker = session.worker
    wanted_ms = max(int(worker.minimum_check_interval.total_seconds() * 1000), 1)
    block_ms = session.broker.backend.longest_block_ms(wanted_ms)
    next_sweep = 0.0
    while True:
        # Cleared before looking, so a slot freed while this pass awaits wakes it.
        session.slot_freed.clear()
        stopping = session.stop.is_set()
        if stopping and not session.buffer and not session.claiming:
            return
        free = session.free_slots
        if session.buffer and free > 0:
            await _start(session, take_buffered(session, free))
            continue
        wanted = 0 if stopping else free + read_ahead(session) - len(session.buffer)
        if wanted <= 0:
            await _wait_for_slot(session, stopping)
            continue
        if free > 0 and time.monotonic() >= next_sweep:
            next_sweep = time.monotonic() + _reclaim_interval(session)
            sweep = await _sweep(session, min(free, worker.message_batch))
            if sweep.deliveries:
                await _start(session, sweep.deliveries, sweep.suspects, keep=False)
                continue
        count = min(wanted, worker.message_batch)
        # With every slot taken, only look (a read ahead); else wait for work. A
        # run until finished looks first too: a blocking read would hold its end
        # back by up to the check interval after the last task settled.
        finishing = not session.forever
        block = block_ms if free > 0 and not finishing else None
        deliveries = await session.broker.read(worker.name, count, block)
        if deliveries:
            session.buffer.extend(deliveries)  # claimed at the top, as slots allow
            continue
        if free <= 0:  # nothing to read ahead: wait for a slot
            await _wait_for_slot(session, stopping)
            continue
        if finishing and await _finished(session, count, block_ms):
            return


async def _finished(session: Session, count: int, block_ms: int) -> bool:
    """After an empty look in a run until finished: True when nothing is left
    anywhere; else wait (a settle here, or new work) before looking again."""
    if not session.is_idle():  # ours still run: their settle frees a slot
        session.finish_poll_ms = FIRST_FINISH_POLL_MS
        await wait_for(session.slot_freed, block_ms / 1000)
        return False
    if not session.seeded.is_set():  # automatic perpetuals are being added
        await wait_for(session.seeded, block_ms / 1000)
        return False
    # Under a virtual clock (docket.contrib.pytest) time stands still until the
    # test moves it: tasks due later never come due here, so they do not count;
    # nor for a worker that stops when nothing is due (that plugin's runner).
    due_only = getattr(session.worker, "stops_when_idle", False)
    if _clock.is_real() and not due_only:
        pending = await session.broker.pending_work()
    else:
        pending = await session.broker.pending_work(due_by=_clock.time())
    if not pending:
        return True
    # Work elsewhere: tasks due later (their move wakes the read), or held by
    # another worker (its settle wakes nothing here): look again soon, then less
    # and less often, up to the check interval.
    wait_ms = min(session.finish_poll_ms, block_ms)
    session.finish_poll_ms = min(wait_ms * 2, block_ms)
    deliveries = await session.broker.read(session.worker.name, count, wait_ms)
    session.buffer.extend(deliveries)
    return False


async def main_loop(session: Session) -> None:
    """Claim and dispatch until stopped (or, unless forever, until no work remains);
    a Redis fault pauses the loop (with backoff), it never ends it."""
    await keep_running(session, "read tasks", lambda: _loop(session))


async def _wait_for_slot(session: Session, stopping: bool) -> None:
    """Until a slot frees up (or, unless already stopping, the worker stops)."""
    if stopping:  # a settle always frees slots; the timeout is a safety net
        await wait_for(session.slot_freed, 1.0)
        return
    stop = asyncio.ensure_future(session.stop.wait())
    freed = asyncio.ensure_future(session.slot_freed.wait())
    try:
        await asyncio.wait([stop, freed], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
        freed.cancel()


__all__ = ["Running", "main_loop"]
