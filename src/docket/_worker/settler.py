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

from .resilience import backoff_for, report_fault
from .session import Session, wait_for

logger = logging.getLogger("docket.worker")


async def flush(session: Session) -> None:
    """Settle everything queued so far in one script call, then free the slots.

    Raises when the batch could not be written; it is then queued again, ahead of
    anything settled since."""
    batch, session.pending = session.pending, []
    session.pending_ready.clear()
    if not batch:
        return
    try:
        await session.broker.settle(
            [s for s, _, _ in batch], session.docket.ttl_seconds
        )
    except BaseException:
        session.pending[:0] = batch
        session.pending_ready.set()
        raise
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
            report_fault(session, f"Settling {len(session.pending)} executions", error)
            await asyncio.sleep(min(backoff.next_delay(), cap))
            continue
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
            await session.broker.flush_tally()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the counts stay in the tally for next time
            report_fault(session, "Writing throughput counts", error)
