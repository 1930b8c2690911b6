"""The scheduler: moves due tasks into the stream, and seeds automatic perpetuals."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from .. import _clock, _defaults
from .._states import Disposition
from ..dependencies._perpetual import Perpetual
from ..dependencies._resolution import get_single_dependency_parameter_of_type
from ..execution import Execution
from . import report
from .resilience import backoff_for, every, pause, reached, report_fault
from .session import Session, wait_for

logger = logging.getLogger("docket.worker")


async def scheduler_loop(session: Session) -> None:
    """Sleep until the earliest future task is due (or a wake-up), then move it.

    ``scheduling_resolution`` bounds each sleep, so a missed wake-up costs at most
    that much delay."""
    resolution = session.worker.scheduling_resolution.total_seconds()
    backoff = backoff_for(session)
    while not session.stop.is_set():
        session.wake_scheduler.clear()
        delay = resolution
        try:
            result = await session.broker.queue.stream_due(
                _clock.time(),
                worker=session.worker.name,
                ttl_seconds=session.docket.ttl_seconds,
            )
        except asyncio.CancelledError:
            raise
        except Exception as error:
            report_fault(session, "move due tasks", error)
            if not await pause(session, backoff):
                return
            continue
        reached(session, "move due tasks")
        backoff.reset()
        if result.dead_lettered:
            report.parked_dead_lettered(session, result.dead_lettered)
        if result.moved >= _defaults.MOVE_BATCH:
            continue
        if result.next_due is not None:
            delay = min(max(result.next_due - _clock.time(), 0.0), resolution)
        if delay > 0:
            wake = asyncio.ensure_future(session.wake_scheduler.wait())
            stop = asyncio.ensure_future(session.stop.wait())
            try:
                await asyncio.wait(
                    [wake, stop], timeout=delay, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                wake.cancel()
                stop.cancel()


def automatic_tasks(session: Session) -> list[tuple[Any, Any]]:
    """(function, perpetual) for every registered task declaring automatic=True."""
    found: list[tuple[Any, Any]] = []
    seen: set[int] = set()
    for function in list(
        session.docket.tasks.values()
    ):  # a snapshot: never mutate while iterating
        if id(function) in seen:
            continue
        seen.add(id(function))
        perpetual = get_single_dependency_parameter_of_type(function, Perpetual)
        if perpetual is not None and perpetual.automatic:
            found.append((function, perpetual))
    return found


async def seed_automatic(session: Session) -> None:
    tasks = automatic_tasks(session)
    if not tasks:
        return
    docket = session.docket
    await docket.wait_for_strikes_loaded()
    broker = session.broker
    timeout_ms = int(_defaults.PERPETUAL_LOCK_TIMEOUT.total_seconds() * 1000)
    if not await broker.workers.take_perpetual_lock(session.worker.name, timeout_ms):
        return
    try:
        for function, perpetual in tasks:
            key = function.__name__
            record = await session.broker.runs.record(key)
            if record is not None and record.state == "scheduled":
                await _seed_severed(session, function, perpetual.initial_when, key)
                continue
            if record is not None and record.live:
                continue
            await docket.add(function, when=perpetual.initial_when, key=key)()
    finally:
        await broker.workers.release_perpetual_lock()


async def _seed_severed(
    session: Session, function: Any, when: datetime | None, key: str
) -> None:
    """Seed a perpetual whose record says "scheduled" only if nothing holds that
    run any more (its queue entry was deleted from outside: a severed chain).
    schedule.lua's seed mode checks and places in one step; a live chain answers
    EXISTS and is left alone."""
    docket = session.docket
    execution = Execution(docket, function, (), {}, key, when or _clock.utcnow(), 1)
    if docket.strike_list.is_stricken(execution):
        return
    request = replace(execution.schedule_request(), mode="seed")
    placed = await session.broker.queue.place(request)
    if execution.scheduled(placed, request.immediate) is Disposition.SCHEDULED:
        logger.info(
            "Seeded %s again: its next run was no longer held anywhere",
            key,
            extra=session.worker.labels(),
        )


async def reseed_loop(session: Session) -> None:
    async def seed() -> None:
        try:
            await seed_automatic(session)
        finally:
            session.seeded.set()  # tried once: a run until finished may end

    await every(
        session, lambda: session.worker.reseed_interval, seed, "seed automatic tasks"
    )


__all__ = ["reseed_loop", "scheduler_loop", "seed_automatic", "wait_for"]
