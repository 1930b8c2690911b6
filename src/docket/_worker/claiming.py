"""Claiming: taking delivered messages in and starting the ones a claim wins.

The main loop (``loop.py``) and the settler (``settler.py``) both claim: the loop
for the messages it reads (``start``: take in, claim, launch), the settler for the
read-ahead messages it claims in the round trip that settles finished ones. Both go
through ``prepare`` (dead-letter the refused, settle the struck, park the early,
hold back paused types), ``claims_of``, ``launch`` and, when a claim does not
happen, ``unclaim``.

Messages read ahead (``read_ahead``) wait in the session's buffer, still this
consumer's pending entries and leased, until a slot frees (``take_buffered``).
"""

from __future__ import annotations

from datetime import datetime

from .. import _codec, _defaults
from .._broker import Delivery, ScheduleRequest
from .._broker.dead import Rejection
from ..execution import Execution, ExecutionState
from . import report, runner
from .intake import BAD_RECORD, take_in
from .pauses import hold_paused
from .session import Running, Session

READ_AHEAD_BELOW = _defaults.READ_AHEAD_BELOW.total_seconds()

Held = list[tuple[Running, Delivery]]


def read_ahead(session: Session) -> int:
    """How many messages beyond the free slots to hold: none while tasks are long."""
    if session.typical_duration > READ_AHEAD_BELOW:
        return 0
    if session.lanes:  # a late high-priority task waits behind these at most
        return min(session.worker.concurrency, _defaults.LANES_READ_AHEAD)
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
        await session.broker.dead.add(
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
    placed = await session.broker.queue.place(request)
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


async def start(
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
        claimed = await session.broker.runs.claim(
            session.worker.name, _codec.iso(started), claims_of(prepared)
        )
    except BaseException:
        unclaim(session, prepared, keep)
        raise
    launch(session, prepared, claimed, started)
