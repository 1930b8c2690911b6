"""Worker: runs the tasks of a docket."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from types import TracebackType
from typing import Any

from uncalled_for import Dependency, FailedDependency, SharedContext

from . import _defaults
from ._handles import CancelHook
from ._worker.entrypoint import import_function, serve
from ._worker.isolation import close_pools
from ._worker.lifecycle import run_sessions
from ._worker.options import isolation_options, worker_dependencies
from ._worker.report import eviction_note
from ._worker.session import Pulse

# Names pydocket's docket.worker has too (its own imports there): the same
# objects as in the modules that define them here.
from .annotations import compact_signature as compact_signature
from .dependencies._base import AdmissionBlocked as AdmissionBlocked
from .dependencies._base import CompletionHandler as CompletionHandler
from .dependencies._base import FailureHandler as FailureHandler
from .dependencies._base import Runtime as Runtime
from .dependencies._base import TaskOutcome as TaskOutcome
from .dependencies._context import current_docket, current_execution, current_worker
from .dependencies._context import format_duration as format_duration
from .dependencies._contextual import CurrentExecution as CurrentExecution
from .dependencies._contextual import TaskLogger as TaskLogger
from .dependencies._perpetual import Perpetual as Perpetual
from .dependencies._resolution import (
    get_single_dependency_of_type as get_single_dependency_of_type,
)
from .dependencies._resolution import (
    get_single_dependency_parameter_of_type as get_single_dependency_parameter_of_type,
)
from .dependencies._resolution import resolved_dependencies as resolved_dependencies
from .dependencies._validation import dependency_conflicts
from .docket import Docket
from .docket import RedisMessage as RedisMessage
from .docket import RedisMessageID as RedisMessageID
from .execution import Execution, TaskFunction
from .execution import get_signature as get_signature
from .instrumentation import QUEUE_DEPTH as QUEUE_DEPTH
from .instrumentation import REDIS_DISRUPTIONS as REDIS_DISRUPTIONS
from .instrumentation import SCHEDULE_DEPTH as SCHEDULE_DEPTH
from .instrumentation import TASK_DURATION as TASK_DURATION
from .instrumentation import TASK_PUNCTUALITY as TASK_PUNCTUALITY
from .instrumentation import TASKS_COMPLETED as TASKS_COMPLETED
from .instrumentation import TASKS_FAILED as TASKS_FAILED
from .instrumentation import TASKS_REDELIVERED as TASKS_REDELIVERED
from .instrumentation import TASKS_RUNNING as TASKS_RUNNING
from .instrumentation import TASKS_STARTED as TASKS_STARTED
from .instrumentation import TASKS_STRICKEN as TASKS_STRICKEN
from .instrumentation import TASKS_SUCCEEDED as TASKS_SUCCEEDED
from .instrumentation import TASKS_SUPERSEDED as TASKS_SUPERSEDED
from .instrumentation import healthcheck_server as healthcheck_server
from .instrumentation import metrics_server as metrics_server

logger = logging.getLogger("docket.worker")

__all__ = [
    "AUTOMATIC_PERPETUAL_RESEED_INTERVAL_SECONDS",
    "MESSAGE_BATCH",
    "Worker",
    "default_fallback_task",
]

# How often a running worker adds back automatic perpetual tasks whose chain ended
# (cancelled, lost, or struck and then restored). Read at every wait, so it can be
# changed while workers run.
AUTOMATIC_PERPETUAL_RESEED_INTERVAL_SECONDS = int(
    _defaults.RESEED_INTERVAL.total_seconds()
)
# The most messages one read (or one redelivery sweep) takes at once by default.
MESSAGE_BATCH = _defaults.MESSAGE_BATCH
# How long an execution an admission control turned away waits before it is
# offered again, and how long the automatic-perpetual seeding lock is held.
ADMISSION_BLOCKED_RETRY_DELAY = _defaults.ADMISSION_RESCHEDULE_DELAY
AUTOMATIC_PERPETUAL_LOCK_TIMEOUT_SECONDS = int(
    _defaults.PERPETUAL_LOCK_TIMEOUT.total_seconds()
)
# A task key (pydocket's alias).
TaskKey = str

WorkerDependencies = Mapping[str, Dependency[Any]] | Sequence[Dependency[Any]]


async def default_fallback_task(*args: Any, **kwargs: Any) -> None:
    """Log and drop a task whose name this worker does not know."""
    execution = current_execution.get()
    logging.getLogger(f"docket.task.{execution.function_name}").warning(
        "Unknown task %r received - dropping. Register via CLI (--tasks "
        "your.module:tasks) or API (docket.register(func)).",
        execution.function_name,
    )


class Worker:
    """Claims and runs tasks of one docket, ``concurrency`` at a time."""

    def __init__(
        self,
        docket: Docket,
        name: str | None = None,
        concurrency: int = _defaults.CONCURRENCY,
        redelivery_timeout: timedelta = _defaults.REDELIVERY_TIMEOUT,
        reconnection_delay: timedelta = _defaults.RECONNECTION_DELAY,
        minimum_check_interval: timedelta = _defaults.MINIMUM_CHECK_INTERVAL,
        scheduling_resolution: timedelta = _defaults.SCHEDULING_RESOLUTION,
        schedule_automatic_tasks: bool = True,
        enable_internal_instrumentation: bool = False,
        fallback_task: TaskFunction | None = None,
        dependencies: WorkerDependencies | None = None,
        message_batch: int = _defaults.MESSAGE_BATCH,
        max_deliveries: int = _defaults.MAX_DELIVERIES,
        isolated_processes: int | None = None,
        max_tasks_per_child: int = 0,
        pools: Mapping[str, int] | None = None,
        priority_aging: timedelta = _defaults.PRIORITY_AGING,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if message_batch < 1:
            raise ValueError(f"message_batch must be at least 1, got {message_batch}")
        if max_deliveries < 1:
            raise ValueError(f"max_deliveries must be at least 1, got {max_deliveries}")
        for label, value in (
            ("redelivery_timeout", redelivery_timeout),
            ("minimum_check_interval", minimum_check_interval),
            ("scheduling_resolution", scheduling_resolution),
            ("priority_aging", priority_aging),
        ):
            if value <= timedelta(0):
                raise ValueError(f"{label} must be positive, got {value}")
        if redelivery_timeout < _defaults.MIN_REDELIVERY_TIMEOUT:
            # Allowed (pydocket's own tests use 40 ms), but worth a word: leases are
            # renewed every quarter of it, so a worker busy for longer than that
            # can see a running task reclaimed and run a second time elsewhere.
            logger.warning(
                "redelivery_timeout=%s is shorter than %s: a task may be "
                "redelivered to another worker while it still runs here",
                redelivery_timeout,
                _defaults.MIN_REDELIVERY_TIMEOUT,
            )
        self.docket = docket
        self.name = name or _defaults.default_worker_name()
        self.concurrency = concurrency
        self.redelivery_timeout = redelivery_timeout
        self.reconnection_delay = reconnection_delay
        self.minimum_check_interval = minimum_check_interval
        self.scheduling_resolution = scheduling_resolution
        self.schedule_automatic_tasks = schedule_automatic_tasks
        self.enable_internal_instrumentation = enable_internal_instrumentation
        self.fallback_task: TaskFunction = fallback_task or default_fallback_task
        self.dependencies = worker_dependencies(dependencies)
        self.message_batch = message_batch
        # Priorities: a waiting task rises one level per this long (dispatch.lua).
        self.priority_aging = priority_aging
        # Isolated tasks (docs/isolation.md): the default pool's size (None: one
        # child per CPU), calls before a child is replaced (0: never), named pools.
        self.isolated_processes, self.max_tasks_per_child, self.pools = (
            isolation_options(isolated_processes, max_tasks_per_child, pools)
        )
        self.isolation: Any = None  # the pools, made by the first session
        self._conflicts: weakref.WeakKeyDictionary[Any, dict[str, FailedDependency]] = (
            weakref.WeakKeyDictionary()
        )
        # A message delivered more often than this (its worker kept dying, or it
        # kept being abandoned) goes to the dead-letter stream instead of running.
        self.max_deliveries = max_deliveries
        self._stop = asyncio.Event()
        self._running: asyncio.Task[None] | None = None
        self.cancel_hooks: list[CancelHook] = []
        self._pulse = Pulse()
        self._abandon: asyncio.Future[None] | None = None
        self._shared: SharedContext | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._limits: dict[str, int] = {}
        self._counts: dict[str, int] = {}

    def labels(self) -> dict[str, str]:
        return {**self.docket.labels(), "docket.worker": self.name}

    @staticmethod
    def check_dependencies(dependencies: Any) -> None:
        """Raise the constructor's TypeError or ValueError for a bad collection."""
        worker_dependencies(dependencies)

    # The heartbeat keys, as the docket names them (pydocket has them here too).
    @property
    def workers_set(self) -> str:
        return self.docket.workers_set

    def worker_tasks_set(self, worker_name: str) -> str:
        return self.docket.worker_tasks_set(worker_name)

    def task_workers_set(self, task_name: str) -> str:
        return self.docket.task_workers_set(task_name)

    @property
    def reseed_interval(self) -> float:
        """Seconds between re-adds of automatic perpetual tasks (the module's
        ``AUTOMATIC_PERPETUAL_RESEED_INTERVAL_SECONDS``, read now)."""
        return float(AUTOMATIC_PERPETUAL_RESEED_INTERVAL_SECONDS)

    def validate_task_dependencies(
        self,
        function: TaskFunction,
        arguments: dict[str, Any],
        annotations: Mapping[str, Sequence[Dependency[Any]]],
    ) -> dict[str, FailedDependency]:
        """Where a task's dependencies and this worker's break the "single" rule.

        ``arguments`` are the resolved arguments (dependency values included) and
        ``annotations`` the task's ``Annotated`` dependencies. Returns ``{}`` when
        the worker has no dependencies of its own; otherwise one
        ``FailedDependency`` per conflict, under ``__conflict_<Type>__``. The first
        answer for a function is kept and reused.
        """
        if not self.dependencies:
            return {}
        try:
            cached = self._conflicts.get(function)
        except TypeError:  # not weakly referenceable: no caching
            return dependency_conflicts(arguments, annotations)
        if cached is None:
            cached = dependency_conflicts(arguments, annotations)
            self._conflicts[function] = cached
        return dict(cached)

    # ---- context ---------------------------------------------------------------

    async def __aenter__(self) -> Worker:
        self._tokens = (current_docket.set(self.docket), current_worker.set(self))
        self._stop = asyncio.Event()
        self._shared = SharedContext()
        await self._shared.__aenter__()
        self._executor = ThreadPoolExecutor(
            max_workers=self.concurrency, thread_name_prefix=f"docket-{self.name}"
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._running is not None and not self._running.done():
            await self._wait_running()
        await close_pools(self, graceful=exc_type is None)
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        shared, self._shared = self._shared, None
        try:
            if shared is not None:
                await shared.__aexit__(exc_type, exc_value, traceback)
        finally:
            current_worker.reset(self._tokens[1])
            current_docket.reset(self._tokens[0])

    # ---- running -----------------------------------------------------------------

    async def run_forever(self) -> None:
        """Process tasks until stopped (context exit, cancellation or a signal)."""
        await self._run(forever=True)

    async def run_until_finished(self) -> None:
        """Process until the stream and the future queue are empty and nothing runs."""
        await self._run(forever=False)

    async def run_at_most(self, iterations_by_key: Mapping[str, int]) -> None:
        """Like run_until_finished, running each listed task key at most N times."""
        self._limits = dict(iterations_by_key)
        self._counts = {}
        self.docket.strike_list.add_condition(self._over_limit)
        try:
            await self._run(forever=False)
        finally:
            self.docket.strike_list.remove_condition(self._over_limit)
            self._limits, self._counts = {}, {}

    def _over_limit(self, execution: Execution) -> bool:
        limit = self._limits.get(execution.key)
        return limit is not None and self._counts.get(execution.key, 0) >= limit

    def note_claim(self, key: str) -> None:
        """Count a claim of ``key`` toward its ``run_at_most`` limit."""
        if key in self._limits:
            self._counts[key] = self._counts.get(key, 0) + 1

    async def _run(self, forever: bool) -> None:
        if self._shared is None:
            raise RuntimeError("Use 'async with Worker(...)' before running it")
        self._stop.clear()
        self._abandon = asyncio.get_running_loop().create_future()
        self._running = asyncio.ensure_future(self._sessions(forever))
        try:
            await self._wait_running()
        except asyncio.CancelledError:
            if self._running.done() and self._running.cancelled():
                raise
            self._stop.set()  # cancelling run_* is a graceful shutdown request
            uncancel = getattr(asyncio.current_task(), "uncancel", None)
            if uncancel is not None:
                uncancel()
            try:
                await self._wait_running()
            except asyncio.CancelledError:
                self.stop(graceful=False)
                raise
        finally:
            self._running = None

    async def _wait_running(self) -> None:
        """Wait for the sessions to end (cancelling this wait does not cancel them).
        After a forced stop, wait at most ``ABANDON_GRACE``: a task that ignores its
        cancellation is left behind rather than holding the shutdown forever."""
        running, abandon = self._running, self._abandon
        assert running is not None and abandon is not None
        await asyncio.wait({running, abandon}, return_when=asyncio.FIRST_COMPLETED)
        if running.done():
            running.result()
            return
        logger.error(
            "Worker %r stopped while some tasks ignored their cancellation; their "
            "messages will be redelivered",
            self.name,
        )
        raise asyncio.CancelledError

    def is_healthy(self) -> bool:
        """Able to process: a session runs and its heartbeat reached Redis recently.

        The heartbeat is a coroutine on the worker's event loop, so a loop blocked
        by synchronous code, a lost Redis connection or a session that ended all
        make the last successful beat grow old."""
        running = self._running
        if running is None or running.done():
            return False
        horizon = self.docket.heartbeat_interval.total_seconds() * 2 + 1
        return self._pulse.healthy(horizon)

    def health_warnings(self) -> list[str]:
        """What the health endpoint adds under its status: a Redis whose
        maxmemory-policy lets it evict keys (found at start-up)."""
        policy = self._pulse.eviction_policy
        return [] if policy is None else [eviction_note(policy)]

    def stop(self, graceful: bool = True) -> None:
        """Ask a running worker to stop: drain in-flight tasks, or abandon them."""
        self._stop.set()
        if not graceful and self._running is not None:
            self._running.cancel()
            grace = _defaults.ABANDON_GRACE.total_seconds()
            abandon = self._abandon
            if abandon is not None:
                asyncio.get_running_loop().call_later(
                    grace, lambda: abandon.done() or abandon.set_result(None)
                )

    async def _sessions(self, forever: bool) -> None:
        """Run processing sessions until stopped (``_worker.lifecycle.run_sessions``)."""
        await run_sessions(
            self, self.docket, forever, self._stop, self._executor, self._pulse
        )

    # ---- the CLI's entry point -------------------------------------------------------

    @classmethod
    async def run(
        cls,
        docket_name: str = _defaults.DOCKET_NAME,
        url: str = _defaults.DOCKET_URL,
        name: str | None = None,
        concurrency: int = _defaults.CONCURRENCY,
        redelivery_timeout: timedelta = _defaults.REDELIVERY_TIMEOUT,
        reconnection_delay: timedelta = _defaults.RECONNECTION_DELAY,
        minimum_check_interval: timedelta = _defaults.CLI_MINIMUM_CHECK_INTERVAL,
        scheduling_resolution: timedelta = _defaults.SCHEDULING_RESOLUTION,
        schedule_automatic_tasks: bool = True,
        enable_internal_instrumentation: bool = False,
        until_finished: bool = False,
        healthcheck_port: int | None = None,
        metrics_port: int | None = None,
        tasks: list[str] = [_defaults.STANDARD_TASKS],
        fallback_task: str | None = None,
        message_batch: int = _defaults.MESSAGE_BATCH,
        dependencies: WorkerDependencies | str | None = None,
        shutdown_timeout: timedelta | None = None,
        http_host: str = _defaults.HTTP_HOST,
        max_deliveries: int = _defaults.MAX_DELIVERIES,
        dead_letter_limit: int = _defaults.DEAD_LETTER_LIMIT,
        signing_keys: list[str] | None = None,
        serializer: str | None = None,
        isolated_processes: int | None = None,
        max_tasks_per_child: int = 0,
        pools: Mapping[str, int] | None = None,
        priority_aging: timedelta = _defaults.PRIORITY_AGING,
    ) -> None:
        """Run a worker as a service: signals, health and metrics endpoints.

        ``dependencies`` may name a collection as ``"module:member"``;
        ``signing_keys`` and ``serializer`` go to the Docket (None: from the
        environment, see docs/security.md)."""
        fallback = import_function(fallback_task) if fallback_task else None
        collection: WorkerDependencies | None
        if isinstance(dependencies, str):
            collection = import_function(dependencies) if dependencies else None
        else:
            collection = dependencies
        async with Docket(
            name=docket_name,
            url=url,
            enable_internal_instrumentation=enable_internal_instrumentation,
            dead_letter_limit=dead_letter_limit,
            signing_keys=signing_keys,
            serializer=serializer,
        ) as docket:
            for path in tasks:
                docket.register_collection(path)
            worker = cls(
                docket,
                name=name,
                concurrency=concurrency,
                redelivery_timeout=redelivery_timeout,
                reconnection_delay=reconnection_delay,
                minimum_check_interval=minimum_check_interval,
                scheduling_resolution=scheduling_resolution,
                schedule_automatic_tasks=schedule_automatic_tasks,
                enable_internal_instrumentation=enable_internal_instrumentation,
                fallback_task=fallback,
                dependencies=collection,
                message_batch=message_batch,
                max_deliveries=max_deliveries,
                isolated_processes=isolated_processes,
                max_tasks_per_child=max_tasks_per_child,
                pools=pools,
                priority_aging=priority_aging,
            )
            await serve(
                worker,
                until_finished,
                healthcheck_port,
                metrics_port,
                shutdown_timeout=shutdown_timeout,
                http_host=http_host,
            )
