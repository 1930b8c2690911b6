"""What the lower layers may use of a Docket and of a Worker, as typed handles,
and the task function and call types they pass around.

Executions, progress, results, the dependency layer and the logging filter sit
below ``Docket`` and ``Worker`` (those two import them, not the other way round),
so they see a docket or a worker only through these protocols. ``Docket`` and
``Worker`` satisfy them structurally; pyright checks that wherever one is passed
as a handle.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from key_value.aio.protocols import AsyncKeyValue

from ._broker import Broker
from ._codec import Codec
from ._keys import Keyspace

TaskFunction = Callable[..., Awaitable[Any]]
# Called with the task key of every cancel signal the worker's listener receives.
CancelHook = Callable[[str], Awaitable[None]]


class DocketHandle(Protocol):
    """A docket as its executions and dependencies see it."""

    name: str
    execution_ttl: timedelta
    tasks: dict[str, TaskFunction]
    result_storage: AsyncKeyValue
    # Serializes and signs every payload; refuses what it cannot verify.
    codec: Codec

    @property
    def broker(self) -> Broker:
        """The docket's operations (raises while the docket is not entered)."""
        ...

    @property
    def keyspace(self) -> Keyspace:
        """The names of the docket's keys and channels."""
        ...

    @property
    def ttl_seconds(self) -> int:
        """``execution_ttl`` in whole seconds (0: fire-and-forget)."""
        ...

    def labels(self) -> dict[str, str]: ...

    def register(
        self, function: TaskFunction, names: list[str] | None = None
    ) -> None: ...

    def add(
        self, function: str, when: datetime | None = None, key: str | None = None
    ) -> Callable[..., Awaitable[object]]:
        """Schedule the task registered as ``function`` (see ``Docket.add``)."""
        ...

    def replace(
        self, function: str, when: datetime, key: str, *, priority: int | None = None
    ) -> Callable[..., Awaitable[object]]:
        """Schedule ``function`` under ``key``, replacing it (see ``Docket.replace``)."""
        ...

    async def withdraw(self, key: str) -> None:
        """Take ``key`` out of the queue and the stream, without a cancel signal."""
        ...

    async def get_execution(self, key: str) -> object | None:
        """The Execution recorded under ``key`` (see ``Docket.get_execution``)."""
        ...


class WorkerHandle(Protocol):
    """A worker as the dependencies, the call path and log records see it."""

    name: str
    concurrency: int
    redelivery_timeout: timedelta
    fallback_task: TaskFunction
    # Extra work for each cancel signal, done by the worker's one cancel listener.
    cancel_hooks: list[CancelHook]

    @property
    def docket(self) -> DocketHandle: ...

    def labels(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class TaskCall:
    """What to schedule: the function, its arguments, the key and the time.

    ``Docket.call(fn, when=, key=)(*args, **kwargs)`` builds one (registering the
    function and fixing the key and time); it may also be built directly. A None
    ``function_name`` means the message names ``function.__name__``. It compares
    field by field; it is not hashable (``kwargs`` is a dict).
    """

    function: TaskFunction
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    key: str
    when: datetime
    function_name: str | None = None
    # Workflows: the parent keys it waits for, and what a parent's failure does.
    after: tuple[str, ...] = ()
    on_parent_failure: str = "cancel"
    # Its priority (1 lowest .. 9 highest); None: the task's default (5 unless it
    # declares Priority(n)).
    priority: int | None = None


__all__ = ["CancelHook", "DocketHandle", "TaskFunction", "WorkerHandle", "TaskCall"]
