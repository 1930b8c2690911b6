"""One processing session: start the loops, run the main loop, drain, stop."""

from __future__ import annotations

import asyncio
import logging
import sys
from concurrent.futures import Executor
from contextlib import AsyncExitStack
from typing import Any

from uncalled_for import get_annotation_dependencies, get_dependency_parameters

from .._broker import Broker
from ..docket import Docket
from . import report
from .cancellation import listener_loop, subscribe
from .liveness import deregister, heartbeat_loop, lease_loop
from .loop import main_loop
from .scheduler import reseed_loop, scheduler_loop
from .session import Pulse, Session, SessionWorker, wait_for
from .settler import flush, settler_loop

if sys.version_info < (3, 11):  # pragma: no cover
    from taskgroup import TaskGroup  # pyright: ignore[reportMissingImports]
else:
    from asyncio import TaskGroup


logger = logging.getLogger("docket.worker")


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


async def run_session(
    worker: SessionWorker,
    docket: Docket,
    forever: bool,
    stop: asyncio.Event,
    executor: Executor | None,
    pulse: Pulse,
) -> None:
    """Process until ``stop`` (or until no work remains); drain in-flight work first."""
    session = Session(
        worker=worker,
        docket=docket,
        broker=Broker(docket.broker.backend, docket.keyspace, docket.ttl_seconds > 0),
        forever=forever,
        stop=stop,
        free_slots=worker.concurrency,
        executor=executor,
        pulse=pulse,
    )
    report.worker_started(session)
    session.broker.backend.warn_if_pool_too_small(worker.concurrency)
    pulse.active = True
    try:
        await _process(session)
    finally:
        pulse.active = False


async def _process(session: Session) -> None:
    worker, docket = session.worker, session.docket
    async with AsyncExitStack() as hooks:
        for cls in _lifecycle_classes(worker, docket):
            manager = cls.worker_lifecycle(docket, worker)
            if manager is not None:
                await hooks.enter_async_context(manager)
        failure: BaseException | None = None
        # The first subscription happens here, so that a user whose ACL refuses it
        # fails the start at once (SubscriptionRefused) instead of retrying.
        pubsub = await subscribe(session)
        async with TaskGroup() as background:
            loops: list[asyncio.Task[None]] = []
            loops.append(background.create_task(listener_loop(session, pubsub)))
            await _wait_listening(session)
            if worker.schedule_automatic_tasks:
                loops.append(background.create_task(reseed_loop(session)))
            loops.append(background.create_task(scheduler_loop(session)))
            loops.append(background.create_task(lease_loop(session)))
            loops.append(background.create_task(heartbeat_loop(session)))
            settler = background.create_task(settler_loop(session))
            try:
                async with TaskGroup() as executions:
                    try:
                        await main_loop(session, executions)
                    except Exception as error:  # drain first, then report it
                        failure = error
                    finally:
                        _stop_loops(loops)
                        await deregister(session)
                        if session.in_flight:
                            logger.info(
                                "Shutdown requested, finishing %d active tasks...",
                                session.in_flight,
                            )
                failure = await _drain_settlements(session) or failure
            finally:
                settler.cancel()
                _stop_loops(loops)
    if failure is not None:
        raise failure


def _stop_loops(loops: list[asyncio.Task[None]]) -> None:
    for loop in loops:
        loop.cancel()


async def _wait_listening(session: Session) -> None:
    while not session.listening.is_set():
        if session.stop.is_set():
            return
        try:
            await asyncio.wait_for(session.listening.wait(), 0.1)
        except asyncio.TimeoutError:
            continue


async def _drain_settlements(session: Session) -> BaseException | None:
    """Wait until every finished execution is settled (by us or the settler loop)."""
    while session.pending or session.by_message:
        if session.pending:
            try:
                await flush(session)
            except Exception as error:  # the messages stay pending for redelivery
                return error
        else:
            session.slot_freed.clear()
            await wait_for(session.slot_freed, 1.0)
    return None
