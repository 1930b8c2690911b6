"""One processing session: start the loops, run the main loop, drain, stop."""

from __future__ import annotations

import asyncio
import logging
import sys
from concurrent.futures import Executor
from contextlib import AsyncExitStack
from typing import Any

from uncalled_for import get_annotation_dependencies, get_dependency_parameters

from .. import _clock, _defaults
from .. import instrumentation as m
from .._broker import Broker
from .._redis.faults import AccessDenied, Backoff, Fault, classify
from .._redis.outages import outage_log
from ..docket import Docket
from . import report
from .cancellation import listener_loop
from .fairness import fairness_loop
from .isolation import pools_of
from .liveness import deregister, heartbeat_loop, lease_loop
from .loop import main_loop
from .pauses import pause_loop
from .pauses import refresh as refresh_pauses
from .resilience import PROBE_INTERVAL, probe_loop, reached, unreachable
from .scheduler import reseed_loop, scheduler_loop
from .session import Pulse, Session, SessionWorker, wait_for
from .settler import settle_all, settler_loop
from .watchdog import watchdog_for

if sys.version_info < (3, 11):  # pragma: no cover
    from taskgroup import TaskGroup  # pyright: ignore[reportMissingImports]
else:
    from asyncio import TaskGroup


logger = logging.getLogger("docket.worker")

START_SESSION = "start a session"  # what the outage log calls a failed start


def _lifecycle_classes(worker: SessionWorker, docket: Docket) -> list[type[Any]]:
    classes: list[type[Any]] = []
    dependencies: list[Any] = list(worker.dependencies.values())
    for function in list(docket.tasks.values()):
        dependencies.extend(get_dependency_parameters(function).values())
        for group in get_annotation_dependencies(function).values():
            dependencies.extend(group)
    for dependency in dependencies:
        cls = type(dependency)
        if hasattr(cls, "worker_lifecycle") and cls not in classes:
            classes.append(cls)
    return classes


async def run_sessions(
    worker: SessionWorker,
    docket: Docket,
    forever: bool,
    stop: asyncio.Event,
    executor: Executor | None,
    pulse: Pulse,
) -> None:
    """Run processing sessions until stopped. A session's loops survive Redis
    faults on their own; a session that cannot start (Redis unreachable) is
    started again after a backoff, or as soon as a PING is answered. Redis being
    unavailable is told once (the process's outage log); a missing ACL rule at
    start-up raises ``AccessDenied`` at once, later it is retried and logged at
    ERROR, as is anything that is not a Redis error."""
    base = worker.reconnection_delay.total_seconds()
    backoff = Backoff(base, max(base, _defaults.BACKOFF_CAP.total_seconds()))
    outage = outage_log(docket.url)
    first = True
    while not stop.is_set():
        try:
            await run_session(worker, docket, forever, stop, executor, pulse, first)
            return
        except AccessDenied:
            raise
        except Exception as error:
            kind = classify(error)
            delay = backoff.next_delay()
            if kind is Fault.TRANSIENT:
                m.REDIS_DISRUPTIONS.add(1, worker.labels())
                outage.failed(START_SESSION, error)
            else:
                if kind is Fault.PERMISSION:
                    m.REDIS_DISRUPTIONS.add(1, worker.labels())
                logger.error(
                    "Worker session stopped (%s: %s); starting again in %.1fs",
                    type(error).__name__,
                    error,
                    delay,
                    exc_info=error if kind is Fault.BUG else None,
                )
            first = False
            if unreachable(error):
                await _until_answered(docket, stop, delay)
            else:
                await wait_for(stop, delay)


async def _until_answered(docket: Docket, stop: asyncio.Event, delay: float) -> None:
    """Wait ``delay`` seconds, or until Redis answers a PING (tried every
    ``PROBE_INTERVAL``), or until stopped."""
    deadline = asyncio.get_running_loop().time() + delay
    while not stop.is_set():
        try:
            await asyncio.wait_for(docket.broker.ping(), PROBE_INTERVAL * 4)
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            pass
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0 or await wait_for(stop, min(PROBE_INTERVAL, left)):
            return


async def run_session(
    worker: SessionWorker,
    docket: Docket,
    forever: bool,
    stop: asyncio.Event,
    executor: Executor | None,
    pulse: Pulse,
    first: bool = True,
) -> None:
    """Process until ``stop`` (or until no work remains); drain in-flight work first."""
    broker = Broker(
        docket.broker.backend,
        docket.keyspace,
        docket.ttl_seconds > 0,
        docket.failed_limit,
        docket.failed_retention.total_seconds(),
        docket.dead_letter_limit,
    )
    broker.tally = docket.broker.tally  # retries are counted on the docket's broker
    session = Session(
        worker=worker,
        docket=docket,
        broker=broker,
        forever=forever,
        stop=stop,
        free_slots=worker.concurrency,
        executor=executor,
        pulse=pulse,
        outage=outage_log(docket.url),
        # A session started after one that failed has lived through trouble
        # reaching Redis: its sweep waits for its first renewal and the grace.
        troubled=not first,
    )
    # Until a read says otherwise, the stream's oldest waiting task counts as due
    # now (lane tasks then go first only when they rank above priority 5).
    session.stream_head = _clock.time()
    if not pulse.announced:  # once per worker, not per session
        pulse.announced = True
        report.worker_started(session)
    session.broker.backend.warn_if_pool_too_small(worker.concurrency)
    pulse.active = True
    try:
        await _process(session, first)
    except Exception as error:  # a refusal at start-up, out of its task group
        denied = [
            e for e in getattr(error, "exceptions", ()) if isinstance(e, AccessDenied)
        ]
        if denied:
            raise denied[0] from None
        raise
    finally:
        pulse.active = False
        await broker.aclose()


async def _process(session: Session, first: bool) -> None:
    worker, docket = session.worker, session.docket
    await _check_access(session, first)
    async with AsyncExitStack() as hooks:
        for cls in _lifecycle_classes(worker, docket):
            manager = cls.worker_lifecycle(docket, worker)
            if manager is not None:
                await hooks.enter_async_context(manager)
        session.isolation = pools_of(worker, docket)
        hooks.push_async_callback(watchdog_for(session).join)
        async with TaskGroup() as background:
            # Leases and cancel signals matter until the last execution settles;
            # taking new work (scheduling, heartbeats) stops with the main loop.
            holding = [
                background.create_task(listener_loop(session)),
                background.create_task(lease_loop(session)),
                background.create_task(probe_loop(session)),
            ]
            await _wait_listening(session, first)
            await refresh_pauses(session)  # before the first claim
            session.pauses_changed.clear()  # the listener's first nudge: done
            taking = [
                background.create_task(scheduler_loop(session)),
                background.create_task(heartbeat_loop(session)),
                background.create_task(pause_loop(session)),
                background.create_task(fairness_loop(session)),
            ]
            if worker.schedule_automatic_tasks:
                taking.append(background.create_task(reseed_loop(session)))
            else:
                session.seeded.set()
            settler = background.create_task(settler_loop(session))
            try:
                async with TaskGroup() as executions:
                    session.executions = executions
                    try:
                        await main_loop(session)
                    finally:
                        session.executions = None
                        _stop_loops(taking)
                        session.pulse.active = False  # draining: not announced
                        await deregister(session)
                        if session.in_flight:
                            logger.info(
                                "Shutdown requested, finishing %d active tasks...",
                                session.in_flight,
                            )
                await _drain_settlements(session)
            finally:
                settler.cancel()
                _stop_loops(holding + taking)


async def _check_access(session: Session, first: bool) -> None:
    """At start-up, a missing ACL rule fails fast (``AccessDenied`` names it), and
    a Redis that may evict keys is reported once."""
    try:
        await session.broker.check_access(session.worker.name)
    except Exception as error:
        if first and classify(error) is Fault.PERMISSION:
            raise AccessDenied(error, session.docket.keyspace.prefix) from error
        raise
    reached(session, START_SESSION)
    if not session.pulse.eviction_checked:  # once per worker, not per session
        session.pulse.eviction_checked = True
        policy = await session.broker.eviction_policy()
        if policy is not None and policy != "noeviction":
            session.pulse.eviction_policy = policy
            report.eviction_possible(session, policy)


def _stop_loops(loops: list[asyncio.Task[None]]) -> None:
    for loop in loops:
        loop.cancel()


async def _wait_listening(session: Session, first: bool) -> None:
    while not session.listening.is_set():
        if session.stop.is_set():
            return
        if first and session.refused is not None:
            raise AccessDenied(session.refused, session.docket.keyspace.prefix)
        try:
            await asyncio.wait_for(session.listening.wait(), 0.1)
        except asyncio.TimeoutError:
            continue


async def _drain_settlements(session: Session) -> None:
    """Wait until every finished execution is settled (by us or the settler loop),
    retrying through Redis faults; a forced stop cancels this."""
    while session.pending or session.by_message:
        if session.pending:
            await settle_all(session)
        else:
            session.slot_freed.clear()
            await wait_for(session.slot_freed, 1.0)
    try:
        await session.broker.runs.flush_tally(force=True)
    except Exception as error:  # counts only: the work itself is settled
        logger.warning("Could not write the throughput counts: %s", error)
