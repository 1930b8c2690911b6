"""The settler: writes the final state of finished executions in batches."""

from __future__ import annotations

import asyncio
import logging

from .session import Session

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
    """Flush as soon as anything is queued; one round trip settles a whole batch."""
    while True:
        await session.pending_ready.wait()
        try:
            await flush(session)
        except asyncio.CancelledError:
            raise
        except Exception:
            pass  # logged in flush; the loop keeps serving later batches
