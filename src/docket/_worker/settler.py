"""The settler: writes the final state of finished executions in batches."""

from __future__ import annotations

import asyncio
import logging

from .session import Session, wait_for

logger = logging.getLogger("docket.worker")


async def flush(session: Session) -> None:
    """Settle everything queued so far in one script call, then free the slots."""
    batch, session.pending = session.pending, []
    session.pending_ready.clear()
    if not batch:
        return
    try:
        await session.broker.settle(
            [s for s, _, _ in batch], session.docket.ttl_seconds
        )
    except Exception as error:
        # The messages stay unacknowledged and will be redelivered after
        # redelivery_timeout; the executions' waiters learn of the failure.
        logger.warning("Could not settle %d executions: %s", len(batch), error)
        for _, held, future in batch:
            session.release(held)
            if future is not None and not future.done():
                future.set_exception(error)
        raise
    for _, held, future in batch:
        session.release(held)
        if future is not None and not future.done():
            future.set_result(None)


async def settler_loop(session: Session) -> None:
    """Flush as soon as anything is queued; one round trip settles a whole batch.

    Throughput counts ride along with settlements at most once per interval; when
    no settlement comes to carry them, they go out on their own after it."""
    tally = session.broker.tally
    while True:
        if tally.pending:
            await wait_for(session.pending_ready, tally.interval)
        else:
            await session.pending_ready.wait()
        try:
            if session.pending:
                await flush(session)
            else:
                await session.broker.flush_tally()
        except asyncio.CancelledError:
            raise
        except Exception:
            pass  # logged in flush; the loop keeps serving later batches
