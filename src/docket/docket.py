"""Docket: a named queue of tasks on one backend URL."""

from __future__ import annotations

import importlib
import logging
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Callable,
    Iterable,
    Sequence,
)
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, cast, overload

from key_value.aio.protocols import AsyncKeyValue
from redis.asyncio import Redis
from redis.credentials import CredentialProvider

from . import _codec, _defaults
from . import instrumentation as m
from ._broker import Broker
from ._broker.gates import check_policy
from ._codec import Codec
from ._codec.signing import environment_keys, key_list
from ._console.dead_letters import DeadLetters
from ._console.describe import load_execution
from ._console.failed_tasks import failed_settings
from ._console.fairness import FairShareWeights
from ._console.operator import OperatorConsole
from ._console.pausing import TaskPauses
from ._console.snapshot import (
    DocketSnapshot,
    RunningExecution,
    WorkerInfo,
    WorkerRoster,
    build_snapshot,
    suspended_among,
)
from ._console.strikes import DocketStrikes
from ._handles import TaskCall
from ._keys import DocketNames, Keyspace, check_docket_name, check_task_key
from ._keys import uuid7 as uuid7
from ._producer.placing import (
    Placer,
    make_call,
    schedule_calls,
    span_attributes,
    struck,
)
from ._producer.signals import Signals
from ._producer.workflows import After, Workflows, parent_keys
from ._redis import Backend, key_prefix, open_backend, redact_url
from ._redis.backend import check_url
from ._redis.credentials import check_credentials
from ._results import default_store
from ._tasks import check_task_function, standard_tasks
from .execution import Disposition, Execution, TaskFunction
from .execution import ExecutionState as ExecutionState
from .execution import schedule_many as schedule_many
from .instrumentation import TASKS_ADDED as TASKS_ADDED
from .instrumentation import TASKS_CANCELLED as TASKS_CANCELLED
from .instrumentation import TASKS_REPLACED as TASKS_REPLACED
from .instrumentation import TASKS_SCHEDULED as TASKS_SCHEDULED
from .instrumentation import TASKS_STRICKEN as TASKS_STRICKEN
from .instrumentation import span
from .strikelist import LiteralOperator as LiteralOperator
from .strikelist import Operator as Operator
from .strikelist import Restore as Restore
from .strikelist import Strike as Strike
from .strikelist import StrikeList

logger = logging.getLogger(__name__)

# Most tasks clear() withdraws per script call; read at each call (a module
# attribute, as in pydocket, so it can be changed at run time).
CLEAR_BATCH = _defaults.CLEAR_BATCH

P = ParamSpec("P")
R = TypeVar("R")

TaskCollection = Iterable[TaskFunction]
RedisMessageID = bytes | str
RedisMessage = dict[bytes, bytes]

__all__ = [
    "Docket",
    "DocketSnapshot",
    "RedisMessage",
    "RedisMessageID",
    "RunningExecution",
    "TaskCall",
    "TaskCollection",
    "WorkerInfo",
]


class Docket(
    DocketNames,
    OperatorConsole,
    DocketStrikes,
    TaskPauses,
    WorkerRoster,
    FairShareWeights,
    Workflows,
    Signals,
):
    """Schedules, replaces, cancels, strikes and inspects the tasks of one docket.

    The operator's methods (the failed tasks, replay, purge, dead letters,
    throughput, reschedule) comes from ``OperatorConsole``; pausing and resuming a
    task type from ``TaskPauses``."""

    tasks: dict[str, TaskFunction]
    strike_list: StrikeList
    result_storage: AsyncKeyValue

    def __init__(
        self,
        name: str = _defaults.DOCKET_NAME,
        url: str = _defaults.DOCKET_URL,
        heartbeat_interval: timedelta = _defaults.HEARTBEAT_INTERVAL,
        missed_heartbeats: int = _defaults.MISSED_HEARTBEATS,
        execution_ttl: timedelta = _defaults.EXECUTION_TTL,
        result_storage: AsyncKeyValue | None = None,
        enable_internal_instrumentation: bool = False,
        credential_provider: CredentialProvider | None = None,
        connection_pool: Any | None = None,
        failed_limit: int | None = None,
        failed_retention: timedelta | None = None,
        dead_letter_limit: int = _defaults.DEAD_LETTER_LIMIT,
        signing_keys: Sequence[str | bytes] | None = None,
        serializer: str | None = None,
    ) -> None:
        """``credential_provider`` (a redis-py ``CredentialProvider``) supplies the
        username and password of every connection in place of URL credentials
        (docs/production.md). ``signing_keys`` (default: ``DOCKET_SIGNING_KEYS``)
        sign every payload with the first key and verify with all;
        ``serializer`` is ``"pickle"`` or ``"json"`` (default:
        ``DOCKET_SERIALIZER``, else pickle). See docs/security.md."""
        check_docket_name(name)
        check_url(url)
        check_credentials(url, credential_provider, connection_pool)
        if execution_ttl < timedelta(0):
            raise ValueError("execution_ttl must not be negative")
        if dead_letter_limit < 1:
            raise ValueError(
                f"dead_letter_limit must be at least 1, got {dead_letter_limit}"
            )
        # How many entries the dead-letter stream P:dead keeps (oldest go first).
        self.dead_letter_limit = dead_letter_limit
        keys = environment_keys() if signing_keys is None else key_list(signing_keys)
        self.codec = Codec.configured(serializer, keys, name)
        self._signing_keys = keys
        self.name = name
        self.url = url
        self.heartbeat_interval = heartbeat_interval
        self.missed_heartbeats = missed_heartbeats
        self.execution_ttl = execution_ttl
        # The failed tasks' bounds (DOCKET_FAILED_LIMIT/_RETENTION).
        self.failed_limit, self.failed_retention = failed_settings(
            failed_limit, failed_retention
        )
        self.enable_internal_instrumentation = enable_internal_instrumentation
        self.credential_provider = credential_provider
        self._user_storage = result_storage
        self._connection_pool = connection_pool
        self._stack: AsyncExitStack | None = None
        self._backend: Backend | None = None
        self._broker: Broker | None = None
        self._keyspace = Keyspace(key_prefix(name, url))
        self.strike_list = StrikeList(
            name=name, signing_keys=keys, serializer=serializer
        )

        self.tasks = {}
        for function in standard_tasks:
            self.register(function)

    def __repr__(self) -> str:
        return f"Docket(name={self.name!r}, url={redact_url(self.url)!r})"

    # ---- lifecycle -----------------------------------------------------------

    async def __aenter__(self) -> Docket:
        if self._stack is not None:
            raise RuntimeError(f"Docket {self.name!r} is already entered")
        stack = AsyncExitStack()
        await stack.__aenter__()
        try:
            backend = await stack.enter_async_context(
                open_backend(self.url, self._connection_pool, self.credential_provider)
            )
            self._backend = backend
            self._keyspace = Keyspace(backend.prefix_for(self.name))
            self._broker = Broker(
                backend,
                self.keyspace,
                self.ttl_seconds > 0,
                self.failed_limit,
                self.failed_retention.total_seconds(),
                self.dead_letter_limit,
            )
            self.strike_list = StrikeList(
                url=self.url,
                name=self.name,
                enable_internal_instrumentation=self.enable_internal_instrumentation,
                credential_provider=self.credential_provider,
                connection_pool=self._connection_pool,
                signing_keys=self._signing_keys,
                serializer=self.codec.serializer,
            )
            await stack.enter_async_context(self.strike_list)
            if self._user_storage is not None:
                self.result_storage = self._user_storage
                setup = getattr(self.result_storage, "setup", None)
                if setup is not None:
                    await setup()
            else:
                store = default_store(backend, self.broker, self.keyspace.results)
                if hasattr(store, "__aenter__"):
                    store = await stack.enter_async_context(store)
                self.result_storage = store
        except BaseException:
            await stack.aclose()
            self._backend = self._broker = None
            raise
        self._stack = stack
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        try:
            if self._broker is not None:
                await self._flush_counts(self._broker)
                await self._broker.aclose()
            if stack is not None:
                await stack.aclose()
        finally:
            self._backend = self._broker = None

    async def _flush_counts(self, broker: Broker) -> None:
        try:
            await broker.runs.flush_tally(force=True)
        except Exception as error:  # counts only; closing goes on
            logger.warning("Could not write the throughput counts: %s", error)

    @property
    def broker(self) -> Broker:
        """The docket's operations: every Redis command goes through them."""
        if self._broker is None:
            raise RuntimeError(
                f"Docket {self.name!r} is not entered: use 'async with Docket(...)'"
            )
        return self._broker

    @property
    def ttl_seconds(self) -> int:
        """``execution_ttl`` in whole seconds, 0 for fire-and-forget."""
        seconds = self.execution_ttl.total_seconds()
        return 0 if seconds <= 0 else max(int(seconds), 1)

    @asynccontextmanager
    async def redis(self) -> AsyncGenerator[Redis, None]:
        """A client for this docket's backend (values are bytes).

        Typed as ``redis.asyncio.Redis``, as the public API has it; on a cluster or
        ``memory://`` it is the cluster client or the embedded engine, which offer
        the same methods."""
        if self._backend is not None:
            yield cast(Redis, self._backend.client)
            return
        async with open_backend(
            self.url, self._connection_pool, self.credential_provider
        ) as backend:
            yield cast(Redis, backend.client)

    # ---- registration ------------------------------------------------------------

    def register(self, function: TaskFunction, names: list[str] | None = None) -> None:
        """Register ``function`` under its name (or each of ``names``)."""
        check_task_function(function)
        for name in names or [function.__name__]:
            self.tasks[name] = function

    def register_collection(self, collection_path: str) -> None:
        """Register every task of ``package.module:attribute``."""
        module_name, _, attribute = collection_path.rpartition(":")
        if not module_name or not attribute:
            raise ValueError(
                f"Task collections are given as 'module:attribute', not {collection_path!r}"
            )
        module = importlib.import_module(module_name)
        for function in getattr(module, attribute):
            self.register(function)

    # ---- scheduling -----------------------------------------------------------------

    @overload
    def add(
        self,
        function: Callable[P, Awaitable[R]],
        when: datetime | None = None,
        key: str | None = None,
        *,
        after: After = None,
        on_parent_failure: str = "cancel",
        priority: int | None = None,
    ) -> Callable[P, Awaitable[Execution]]: ...

    @overload
    def add(
        self,
        function: str,
        when: datetime | None = None,
        key: str | None = None,
        *,
        after: After = None,
        on_parent_failure: str = "cancel",
        priority: int | None = None,
    ) -> Callable[..., Awaitable[Execution]]: ...

    def add(
        self,
        function: Callable[..., Any] | str,
        when: datetime | None = None,
        key: str | None = None,
        *,
        after: After = None,
        on_parent_failure: str = "cancel",
        priority: int | None = None,
    ) -> Callable[..., Awaitable[Execution]]:
        """Schedule ``function`` at ``when`` (default now) under ``key`` (default
        uuid7); with ``after=`` (keys, Executions, Groups) it waits until each of
        those has ended (see docs/workflows.md). ``priority`` (1 lowest .. 9
        highest; default: the task's ``Priority``, else 5) orders it among due
        tasks (docs/priorities-and-fairness.md)."""
        parents, policy = parent_keys(after), check_policy(on_parent_failure)
        return Placer(self, function, when, key, False, parents, policy, priority)

    @overload
    def replace(
        self,
        function: Callable[P, Awaitable[R]],
        when: datetime,
        key: str,
        *,
        after: After = None,
        on_parent_failure: str = "cancel",
        priority: int | None = None,
    ) -> Callable[P, Awaitable[Execution]]: ...

    @overload
    def replace(
        self,
        function: str,
        when: datetime,
        key: str,
        *,
        after: After = None,
        on_parent_failure: str = "cancel",
        priority: int | None = None,
    ) -> Callable[..., Awaitable[Execution]]: ...

    def replace(
        self,
        function: Callable[..., Any] | str,
        when: datetime,
        key: str,
        *,
        after: After = None,
        on_parent_failure: str = "cancel",
        priority: int | None = None,
    ) -> Callable[..., Awaitable[Execution]]:
        """Schedule ``function`` under ``key``, removing any pending copy of it
        (tasks waiting for ``key`` wait for this new run)."""
        parents, policy = parent_keys(after), check_policy(on_parent_failure)
        return Placer(self, function, when, key, True, parents, policy, priority)

    @overload
    def call(
        self,
        function: Callable[P, Awaitable[R]],
        when: datetime | None = None,
        key: str | None = None,
        *,
        after: After = None,
        on_parent_failure: str = "cancel",
        priority: int | None = None,
    ) -> Callable[P, TaskCall]: ...

    @overload
    def call(
        self,
        function: str,
        when: datetime | None = None,
        key: str | None = None,
        *,
        after: After = None,
        on_parent_failure: str = "cancel",
        priority: int | None = None,
    ) -> Callable[..., TaskCall]: ...

    def call(
        self,
        function: Callable[..., Any] | str,
        when: datetime | None = None,
        key: str | None = None,
        *,
        after: After = None,
        on_parent_failure: str = "cancel",
        priority: int | None = None,
    ) -> Callable[..., TaskCall]:
        """Like ``add``, but the returned function captures its arguments as a
        ``TaskCall`` for ``add_many``/``replace_many`` (nothing is written).

        The task is resolved and registered, and ``when`` (default now) and ``key``
        (default a fresh uuid7) are fixed at this moment."""
        parents, policy = parent_keys(after), check_policy(on_parent_failure)
        return make_call(self, function, when, key, parents, policy, priority)

    async def add_many(
        self, calls: Iterable[TaskCall], *, chunk_size: int | None = 1000
    ) -> list[Execution]:
        """Schedule many calls, each as ``add`` would, ``chunk_size`` per round trip
        (None: all at once). Returns one execution per call, in order; one whose
        Redis command failed is ``Disposition.FAILED`` with ``schedule_exception``."""
        return await schedule_calls(self, calls, replace=False, chunk_size=chunk_size)

    async def replace_many(
        self, calls: Iterable[TaskCall], *, chunk_size: int | None = 1000
    ) -> list[Execution]:
        """Like ``add_many``, but each call replaces its key as ``replace`` would."""
        return await schedule_calls(self, calls, replace=True, chunk_size=chunk_size)

    async def schedule(self, execution: Execution) -> None:
        """Schedule a pre-built execution (never replacing)."""
        with span("docket.docket", "docket.schedule", span_attributes(self, execution)):
            if struck(self, execution):
                return
            if await execution.schedule() is Disposition.SCHEDULED:
                m.TASKS_SCHEDULED.add(
                    1, {**self.labels(), **execution.general_labels()}
                )

    async def cancel(self, key: str) -> None:
        """Withdraw ``key`` wherever it waits, and stop it if it is running."""
        check_task_key(key)
        with span(
            "docket.docket", "docket.cancel", {**self.labels(), "docket.key": key}
        ):
            await self.broker.queue.cancel(
                key, _codec.iso(_codec.now()), self.ttl_seconds, signal=True
            )
        m.TASKS_CANCELLED.add(1, self.labels())

    async def withdraw(self, key: str) -> None:
        """Withdraw ``key`` from the queue and the stream without a cancel signal."""
        await self.broker.queue.cancel(
            key, _codec.iso(_codec.now()), self.ttl_seconds, signal=False
        )

    async def get_execution(self, key: str) -> Execution | None:
        """The execution recorded under ``key`` (the claim-check pattern), if any.

        Its arguments are verified like a worker's (``UnverifiedMessage``)."""
        return await load_execution(self, key)

    async def clear(self) -> int:
        """Remove all pending work (strikes stay); returns how many tasks waited."""
        with span("docket.docket", "docket.clear", self.labels()):
            return await self.broker.runs.clear(
                self.ttl_seconds, max(int(CLEAR_BATCH), 1)
            )

    # ---- inspection -----------------------------------------------------------------

    async def snapshot(self) -> DocketSnapshot:
        view = await self.broker.views.snapshot()
        snap = build_snapshot(self, view, await self.workers())
        keys = [e.key for e in (*snap.future, *snap.waiting)]
        snap.suspended = suspended_among(snap, await self.broker.steps.latest(keys))
        snap.fair_share = await self.fair_share_backlogs()
        return snap

    @property
    def dead_letters(self) -> DeadLetters:
        """The messages workers refused to run (``P:dead``): list, replay, purge."""
        return DeadLetters(self)
