"""Following the paused task types, and holding their work instead of running it.

The worker keeps the set of paused task names (``Session.paused``) fresh: at the
start of a session, whenever the listener hears a pause or resume (or subscribes
again after a fault), and every heartbeat interval besides. A message of a paused
type is held (``pause_park.lua``) when the worker is about to claim it; nothing is
read or written for this while no task type is paused. A resume another process
began and could not finish (its mark still says "r:") is carried on here.
"""

from __future__ import annotations

import asyncio
import logging

from .. import _clock
from .._broker import Delivery
from .._broker.pauses import PauseMark
from .._codec.message import identity
from .resilience import backoff_for, pause, reached, report_fault
from .session import Session

logger = logging.getLogger("docket.worker")


def follow(session: Session, marks: list[PauseMark]) -> None:
    """Take ``marks`` as the pause state; a resume left unfinished (a mark that
    says "r:") asks the pause loop to carry it on."""
    session.paused = frozenset(mark.task for mark in marks if mark.paused)
    session.pulse.paused = session.paused
    if any(not mark.paused for mark in marks):
        session.pauses_changed.set()


async def refresh(session: Session) -> None:
    """Read the pause marks; go on with any resume left unfinished."""
    marks = await session.broker.pauses.marks()
    follow(session, marks)
    for mark in marks:
        if not mark.paused:
            done = False
            while not done:
                moved, done = await session.broker.pauses.resume_step(mark.task)
                if not moved and not done:
                    break


async def pause_loop(session: Session) -> None:
    """Refresh whenever a pause or resume is announced (the listener sets
    ``pauses_changed``, also after it subscribes again); heartbeats read the
    marks besides, so a lost announcement is made up within one interval."""
    backoff = backoff_for(session)
    while not session.stop.is_set():
        changed = asyncio.ensure_future(session.pauses_changed.wait())
        stop = asyncio.ensure_future(session.stop.wait())
        try:
            await asyncio.wait([changed, stop], return_when=asyncio.FIRST_COMPLETED)
        finally:
            changed.cancel()
            stop.cancel()
        if session.stop.is_set():
            return
        session.pauses_changed.clear()
        try:
            await refresh(session)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            report_fault(session, "read the paused task types", error)
            session.pauses_changed.set()  # try again after the pause
            if not await pause(session, backoff):
                return
            continue
        reached(session, "read the paused task types")
        backoff.reset()


async def hold_paused(session: Session, deliveries: list[Delivery]) -> list[Delivery]:
    """``deliveries`` without those of paused types, which are held in Redis (or
    dropped, when superseded meanwhile); a type resumed meanwhile runs. Runs
    before anything else looks at them, so a fault here leaves them untouched."""
    paused, limit = session.paused, session.worker.max_deliveries
    chosen: list[tuple[Delivery, tuple[str, str, int]]] = []
    for delivery in deliveries:
        found = identity(delivery.fields)
        if found[1] in paused and delivery.deliveries <= limit:
            chosen.append((delivery, found))
    if not chosen:
        return deliveries
    batch = [
        (key, generation, d.message_id, task) for d, (key, task, generation) in chosen
    ]
    codes = await session.broker.pauses.park(batch, _clock.time())
    for (_, (key, task, _)), code in zip(chosen, codes, strict=True):
        if code == "P":
            logger.info(
                "⏸ %s %r held while %s is paused",
                task,
                key,
                task,
                extra={
                    **session.worker.labels(),
                    "docket.key": key,
                    "docket.task": task,
                },
            )
    gone = {
        d.message_id for (d, _), code in zip(chosen, codes, strict=True) if code != "C"
    }
    return [d for d in deliveries if d.message_id not in gone]


__all__ = ["follow", "hold_paused", "pause_loop", "refresh"]
