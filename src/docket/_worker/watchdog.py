"""Leases kept while a task blocks the event loop, and a word about who did.

A task that blocks the worker's event loop (a long computation in an ``async``
body, a synchronous client call) also blocks the lease loop, so after the
redelivery timeout another worker would take the task and run it a second
time. A thread watches the loop instead: it posts a callback every so often;
while one stays unanswered for longer than a lease period the thread renews
the leases of everything the session holds through its own connection, on its
own event loop. When the loop comes back, one WARNING names the task that
blocked it and for how long.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

from .._broker import Broker
from .._redis import open_backend
from .session import Session

logger = logging.getLogger("docket.worker")

# How often the thread looks at the loop, and the block worth a WARNING.
CHECK_INTERVAL = 0.25
WARN_AFTER = 1.0


class Watchdog:
    def __init__(self, session: Session, renews: bool = True) -> None:
        self.session = session
        self.renews = renews
        self.loop = asyncio.get_running_loop()
        self.stopping = threading.Event()
        self.posted: float | None = None  # an unanswered ping was posted then
        self.blocker: str | None = None  # what ran when the block was seen
        self.renewals = 0  # leases renewed from the thread (for the tests)
        self.thread = threading.Thread(
            target=self._watch,
            name=f"docket-watchdog-{session.worker.name}",
            daemon=True,
        )

    @property
    def lease_period(self) -> float:
        return self.session.worker.redelivery_timeout.total_seconds() / 4

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()

    async def join(self) -> None:
        self.stop()
        await asyncio.to_thread(self.thread.join)

    # ---- the thread ------------------------------------------------------------

    def _watch(self) -> None:
        runner: asyncio.AbstractEventLoop | None = None
        try:
            while not self.stopping.wait(min(CHECK_INTERVAL, self.lease_period)):
                posted = self.posted
                if posted is None:
                    self.posted = time.monotonic()
                    try:
                        self.loop.call_soon_threadsafe(self._answered)
                    except RuntimeError:  # the loop closed
                        return
                    continue
                blocked = time.monotonic() - posted
                if (
                    blocked >= min(WARN_AFTER, self.lease_period)
                    and self.blocker is None
                ):
                    self.blocker = self._running_task()
                if blocked >= self.lease_period and self.renews:
                    runner = runner or asyncio.new_event_loop()
                    self._renew(runner)
        finally:
            if runner is not None:
                runner.close()

    def _running_task(self) -> str:
        """What the loop runs now: the execution, when it is one of ours."""
        task = asyncio.current_task(self.loop)
        if task is None:
            return "code outside any task"
        try:
            for held in list(self.session.by_message.values()):
                if held.task is task:
                    execution = held.execution
                    return f"task {execution.function_name} (key {execution.key})"
        except RuntimeError:  # the loop changed the dict meanwhile
            pass
        return f"asyncio task {task.get_name()}"

    def _renew(self, runner: asyncio.AbstractEventLoop) -> None:
        try:
            holding = [m for m in list(self.session.holding) if m]
        except RuntimeError:  # the loop came back and changed them: it renews
            return
        if not holding:
            return
        try:
            runner.run_until_complete(self._renew_through_own_connection(holding))
            self.renewals += 1
        except Exception as error:
            logger.warning("Could not renew leases from the watchdog: %s", error)

    async def _renew_through_own_connection(self, holding: list[bytes]) -> None:
        docket = self.session.docket
        async with open_backend(
            docket.url, None, docket.credential_provider
        ) as backend:
            broker = Broker(
                backend,
                docket.keyspace,
                docket.ttl_seconds > 0,
                docket.failed_limit,
                docket.failed_retention.total_seconds(),
                docket.dead_letter_limit,
            )
            try:
                await broker.queue.renew(self.session.worker.name, holding)
            finally:
                await broker.aclose()

    # ---- on the loop -----------------------------------------------------------

    def _answered(self) -> None:
        posted, blocker = self.posted, self.blocker
        self.posted, self.blocker = None, None
        if posted is None:
            return
        blocked = time.monotonic() - posted
        if blocked >= WARN_AFTER and blocker is not None:
            logger.warning(
                "%s blocked the event loop for %.1f s%s; run blocking work in a "
                "sync task or an Isolated() one",
                blocker[0].upper() + blocker[1:],
                blocked,
                " (its leases were renewed from a watchdog thread)"
                if blocked >= self.lease_period and self.renews
                else "",
            )


def watchdog_for(session: Session) -> Watchdog:
    """A started watchdog for ``session``. It renews nothing on memory:// (one
    process: no other worker takes a task over) nor over a caller's connection
    pool (bound to the worker's loop); it still names what blocked the loop."""
    backend: Any = session.broker.backend
    renews = not backend.is_memory and backend.connection_pool is None
    watchdog = Watchdog(session, renews)
    watchdog.start()
    return watchdog
