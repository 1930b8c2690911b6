"""The settler: writes the final state of finished executions in batches.

A settlement is never abandoned: when a batch cannot be written (Redis is down),
its executions keep their slots, so their leases keep being renewed and nobody
else takes their messages up, and the batch is written again after the backoff,
until it lands. An outage shorter than ``redelivery_timeout`` therefore never makes
a finished task run twice. Throughput counts ride along with settlements at most
once per interval; when no settlement comes to carry them, they go out alone.
"""

from __future__ import annotations

import asyncio
import logging

from .. import _codec
from .._broker import Settlement
from .claiming import claims_of, launch, prepare, read_ahead, take_buffered, unclaim
from .lanes import take_turn, turn_dispatch
from .resilience import backoff_for, pause_briefly, reached, report_fault
from .session import Running, Session, wait_for

Pending = list[tuple[Settlement, Running, "asyncio.Future[None] | None"]]

logger = logging.getLogger("docket.worker")


async def flush(session: Session) -> None:
    """Settle everything queued so far in one script call, then free the slots.

    While the worker takes work, the same round trip claims read-ahead messages
    for the slots this settle frees (they start as soon as it returns) and reads
    what the free slots and the read-ahead want next (``broker.runs.turn``),
    dispatching the best lane tasks first while priority lanes hold any.
    Raises when the batch could not be written; it is then queued again, ahead of
    anything settled since (and the claims go back to the read-ahead buffer)."""
    batch, session.pending = session.pending, []
    session.pending_ready.clear()
    if not batch:
        return
    settlements = [s for s, _, _ in batch]
    ttl = session.docket.ttl_seconds
    taking = session.buffer or not session.stop.is_set()
    if taking and session.executions is not None:
        await _settle_and_claim(session, batch)
        return
    try:
        await session.broker.runs.settle(settlements, ttl)
    except BaseException:
        _requeue(session, batch)
        raise
    _settled(session, batch)


async def _settle_and_claim(session: Session, batch: Pending) -> None:
    free = max(session.free_slots, 0) + len(batch)  # once this settle lands
    # Read what the free slots and the read-ahead want beyond what is in hand.
    wanted = 0 if session.stop.is_set() else free + read_ahead(session)
    refill = min(max(wanted - len(session.buffer), 0), session.worker.message_batch)
    deliveries = take_buffered(session, min(len(session.buffer), free))
    # While lanes hold tasks, the best of them are dispatched ahead of the read.
    dispatch, refill = turn_dispatch(session, refill)
    session.claiming += 1
    try:
        try:
            prepared = await prepare(session, deliveries)
        except BaseException:
            session.buffer[:0] = deliveries
            raise
        started = _codec.now()
        try:
            turn = await session.broker.runs.turn(
                [s for s, _, _ in batch],
                session.docket.ttl_seconds,
                session.worker.name,
                _codec.iso(started),
                claims_of(prepared),
                read=refill,
                dispatch=dispatch,
            )
        except BaseException:
            unclaim(session, prepared, keep=True)
            raise
    except BaseException:
        _requeue(session, batch)
        raise
    finally:
        session.claiming -= 1
    if isinstance(turn.deliveries, list):
        take_turn(session, dispatch, turn.dispatched, turn.deliveries, refill)
    else:  # the read failed: what was dispatched is kept all the same
        take_turn(session, dispatch, turn.dispatched, [], 0)
    if isinstance(turn.claimed, Exception):
        unclaim(session, prepared, keep=True)
    else:
        launch(session, prepared, turn.claimed, started)
    if isinstance(turn.settled, Exception):
        _requeue(session, batch)
        raise turn.settled
    _settled(session, batch)
    if isinstance(turn.claimed, Exception):
        raise turn.claimed


def _requeue(session: Session, batch: Pending) -> None:
    session.pending[:0] = batch
    session.pending_ready.set()


def _settled(session: Session, batch: Pending) -> None:
    for _, held, future in batch:
        session.release(held)
        if future is not None and not future.done():
            future.set_result(None)


async def settle_all(session: Session) -> None:
    """Flush until nothing is queued, retrying after faults (with backoff) for as
    long as it takes; only cancellation (a forced stop) ends it early."""
    backoff = backoff_for(session)
    # Never pause longer than a lease renewal period: the outcome is ready, and
    # waiting longer than Redis's outage only delays those who wait for it.
    cap = session.worker.redelivery_timeout.total_seconds() / 4
    while session.pending:
        try:
            await flush(session)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            report_fault(session, "settle executions", error)
            await pause_briefly(session, min(backoff.next_delay(), cap))
            continue
        reached(session, "settle executions")
        backoff.reset()


async def settler_loop(session: Session) -> None:
    """Flush as soon as anything is queued; one round trip settles a whole batch."""
    tally = session.broker.tally
    while True:
        if tally.pending:
            await wait_for(session.pending_ready, tally.interval)
        else:
            await session.pending_ready.wait()
        if session.pending:
            await settle_all(session)
            continue
        try:
            await session.broker.runs.flush_tally()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the counts stay in the tally for next time
            report_fault(session, "write throughput counts", error)
            continue
        reached(session, "write throughput counts")
