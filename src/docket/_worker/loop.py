"""The main loop: read, claim (``claiming.py``), dispatch; and reading ahead
while tasks are short.

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

from .. import _clock, _defaults
from .._broker import Sweep
from . import lanes
from .claiming import read_ahead, start, take_buffered
from .fairness import fair_tasks
from .resilience import keep_running, reached
from .session import FIRST_FINISH_POLL_MS, Running, Session, wait_for


def _reclaim_interval(session: Session) -> float:
    return min(session.worker.redelivery_timeout.total_seconds() / 4, 1.0)


async def _sweep(session: Session, count: int) -> Sweep:
    """Messages abandoned for ``redelivery_timeout`` (see ``_broker/sweep.py``):
    never one this worker holds, and at most one suspect at a time. None while
    the sweep's grace holds after trouble reaching Redis (``Session.may_sweep``):
    a stall of Redis makes every lease look expired, and their owners, which
    lived through the same stall, renew them first."""
    worker = session.worker
    if not session.may_sweep():
        return Sweep([])
    return await session.broker.sweep.reclaim(
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
        lanes.note_placements(session)
        if session.buffer and free > 0:
            if lanes.stale_buffer(session) and not stopping:
                lanes.to_front(session, await lanes.dispatch(session, free))
            session.buffer_fresh = False
            await start(session, take_buffered(session, free))
            continue
        wanted = 0 if stopping else free + read_ahead(session) - len(session.buffer)
        if wanted <= 0:
            await _wait_for_slot(session, stopping)
            continue
        if free > 0 and time.monotonic() >= next_sweep:
            next_sweep = time.monotonic() + _reclaim_interval(session)
            sweep = await _sweep(session, min(free, worker.message_batch))
            taken = lanes.sort_in(session, sweep.deliveries, 0, fresh=False)
            if taken:
                await start(session, taken, sweep.suspects, keep=False)
                continue
        count = min(wanted, worker.message_batch)
        # With every slot taken, only look (a read ahead); else wait for work. A
        # run until finished looks first too: a blocking read would hold its end
        # back by up to the check interval after the last task settled.
        finishing = not session.forever
        block = block_ms if free > 0 and not finishing else None
        asked = time.monotonic()
        dispatched, deliveries = await lanes.read(session, count, block)
        took = time.monotonic() - asked - (block or 0) / 1000
        session.note_contact(took, renewed=False)
        reached(session, "read tasks")
        if dispatched or deliveries:
            # Claimed at the top, as slots allow: lane tasks first (they ranked
            # before whatever the stream still holds).
            lanes.to_front(session, dispatched)
            session.buffer.extend(deliveries)
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
    # FairShare backlogs wait outside the stream and the queue: asked about only
    # by a worker that serves a FairShare task.
    fair = {"fair": True} if fair_tasks(session) else {}
    if _clock.is_real() and not due_only:
        pending = await session.broker.queue.pending_work(**fair)
    else:
        pending = await session.broker.queue.pending_work(due_by=_clock.time(), **fair)
    if not pending:
        return True
    session.lanes = True  # what waits may be on a lane: the next read dispatches
    # Work elsewhere: tasks due later (their move wakes the read), or held by
    # another worker (its settle wakes nothing here): look again soon, then less
    # and less often, up to the check interval.
    wait_ms = min(session.finish_poll_ms, block_ms)
    session.finish_poll_ms = min(wait_ms * 2, block_ms)
    dispatched, deliveries = await lanes.read(session, count, wait_ms)
    lanes.to_front(session, dispatched)
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
