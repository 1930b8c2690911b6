"""The producer: ``add``, ``replace``, ``call`` and the batch methods
``add_many``/``replace_many``.

Each resolves the task, fixes its time and key, checks the producer-side strikes
(struck calls never reach Redis) and counts what it placed. The batch methods keep
the meaning of a single ``add`` (or ``replace``) for every call: each execution is
placed by its own call of the atomic schedule script, the calls of a chunk sharing
one pipelined round trip; a Redis error for one of them fails only that execution.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from .. import _codec
from .. import instrumentation as m
from .._broker import Broker, ScheduleRequest
from .._broker.gates import CycleError
from .._codec.message import check_priority
from .._errors import QueueFull, UnknownParent
from .._handles import DocketHandle, TaskCall, TaskFunction
from .._keys import GeneratedKey, check_task_key, uuid7
from .._states import Disposition
from ..execution import Execution
from ..instrumentation import span, tracing_enabled
from ..strikelist import StrikeList
from .priorities import task_defaults

logger = logging.getLogger("docket.docket")


class Producer(Protocol):
    """The docket as the scheduling helpers see it."""

    name: str
    tasks: dict[str, TaskFunction]
    strike_list: StrikeList

    def register(
        self, function: TaskFunction, names: list[str] | None = None
    ) -> None: ...

    def labels(self) -> dict[str, str]: ...


def resolve(
    docket: Producer, function: Callable[..., Any] | str
) -> tuple[TaskFunction, str]:
    """The task and the name its messages carry: a registered name (possibly an
    alias, KeyError when unknown), or a function (registered under its name)."""
    if isinstance(function, str):
        if function not in docket.tasks:
            raise KeyError(function)
        return docket.tasks[function], function
    name = function.__name__
    registered = docket.tasks.get(name)
    # A bound method is a new object at every attribute access, but an equal one:
    # it is checked and registered once, like a function.
    if registered is not function and registered != function:
        docket.register(function)
    return function, name


def fixed_when(when: datetime | None) -> datetime:
    """``when``, or now; a naive datetime is a TypeError."""
    if when is None:
        return _codec.now()
    if when.tzinfo is None:
        raise TypeError(
            f"'when' must be timezone-aware, got naive {when!r}; "
            "use datetime.now(timezone.utc) or attach a tzinfo"
        )
    return when


def fixed_key(key: str | None) -> str:
    """``key`` (checked), or a fresh uuid7."""
    if key is None:
        return GeneratedKey(uuid7())
    check_task_key(key)
    return key


def span_attributes(docket: Producer, execution: Execution) -> dict[str, Any]:
    return {
        **docket.labels(),
        **execution.specific_labels(),
        "code.function.name": execution.function_name,
    }


def struck(docket: Producer, execution: Execution) -> bool:
    """Whether a strike refuses ``execution`` here; if so it is ``STRUCK``, logged
    and counted, and nothing is written."""
    if not docket.strike_list.is_stricken(execution):
        return False
    logger.warning(
        "%r is stricken, skipping schedule of %r",
        execution.function_name,
        execution.key,
    )
    m.TASKS_STRICKEN.add(
        1,
        {
            **docket.labels(),
            "docket.task": execution.function_name,
            "docket.where": "docket",
        },
    )
    execution.disposition = Disposition.STRUCK
    return True


@lru_cache(maxsize=1024)
def _count_labels(docket: str, task: str) -> dict[str, str]:
    """The attributes of the scheduling counters (built once per docket and task;
    never mutated)."""
    return {"docket.name": docket, "docket.task": task}


def count(docket: Producer, execution: Execution, replace: bool) -> None:
    """The counters of one add or replace that reached Redis."""
    labels = _count_labels(docket.name, execution.function_name)
    if replace:
        m.TASKS_REPLACED.add(1, labels)
        m.TASKS_CANCELLED.add(1, labels)
        m.TASKS_SCHEDULED.add(1, labels)
    else:
        m.TASKS_ADDED.add(1, labels)
        if execution.disposition is Disposition.SCHEDULED:
            m.TASKS_SCHEDULED.add(1, labels)


class ProducingDocket(Producer, DocketHandle, Protocol):
    """The docket as ``Placer`` sees it (it builds executions on it)."""


class Placer:
    """What ``Docket.add`` and ``replace`` return: each call places one execution.

    A small object rather than a closure: an add in flight then holds one object
    where a closure holds a function and six cells, and the garbage collector, which
    scans every object alive, runs less often and faster when thousands are."""

    __slots__ = (
        "_docket",
        "_task",
        "_name",
        "_when",
        "_key",
        "_replace",
        "_after",
        "_policy",
        "_priority",
        "_max_queued",
    )

    def __init__(
        self,
        docket: ProducingDocket,
        function: Callable[..., Any] | str,
        when: datetime | None,
        key: str | None,
        replace: bool,
        after: tuple[str, ...] = (),
        on_parent_failure: str = "cancel",
        priority: int | None = None,
    ) -> None:
        if priority is not None:
            check_priority(priority)
        self._docket = docket
        self._after, self._policy = after, on_parent_failure
        self._task, self._name = resolve(docket, function)
        self._when, self._key = fixed_when(when), fixed_key(key)
        self._replace = replace
        default, self._max_queued = task_defaults(self._task)
        self._priority = default if priority is None else priority

    async def __call__(self, *args: Any, **kwargs: Any) -> Execution:
        docket, replace = self._docket, self._replace
        execution = Execution(
            docket,
            self._task,
            args,
            kwargs,
            self._key,
            self._when,
            1,
            None,
            False,
            self._name,
        )
        if self._after:  # a gated add (docket._producer.workflows)
            execution.after, execution.on_parent_failure = self._after, self._policy
        execution.priority, execution.max_queued = self._priority, self._max_queued
        if tracing_enabled():
            return await _schedule_traced(docket, execution, replace)
        if not struck(docket, execution):
            await execution.schedule(replace=replace)
            count(docket, execution, replace)
        return execution


async def _schedule_traced(
    docket: ProducingDocket, execution: Execution, replace: bool
) -> Execution:
    """A placer's call under a span (only while a tracer provider is installed)."""
    span_name = "docket.replace" if replace else "docket.add"
    with span("docket.docket", span_name, span_attributes(docket, execution)) as s:
        if struck(docket, execution):
            s.set_attribute("docket.disposition", "struck")
            return execution
        disposition = await execution.schedule(replace=replace)
        s.set_attribute("docket.disposition", disposition.value)
    count(docket, execution, replace)
    return execution


def make_call(
    docket: Producer,
    function: Callable[..., Any] | str,
    when: datetime | None,
    key: str | None,
    after: tuple[str, ...] = (),
    on_parent_failure: str = "cancel",
    priority: int | None = None,
) -> Callable[..., TaskCall]:
    """A function that captures its arguments as a TaskCall (no I/O, no pickling).

    The task is resolved (and registered) and ``when`` and ``key`` are fixed now, so
    every TaskCall it returns shares them."""
    if priority is not None:
        check_priority(priority)
    task, name = resolve(docket, function)
    at, under = fixed_when(when), fixed_key(key)
    # A call made from a function names no alias: its messages name the function.
    alias = name if isinstance(function, str) else None

    def capture(*args: Any, **kwargs: Any) -> TaskCall:
        return TaskCall(
            task,
            args,
            dict(kwargs),
            under,
            at,
            alias,
            after,
            on_parent_failure,
            priority,
        )

    return capture


def _chunks(items: list[Execution], size: int | None) -> Iterable[list[Execution]]:
    step = size or max(len(items), 1)
    for start in range(0, len(items), step):
        yield items[start : start + step]


async def schedule_calls(
    docket: ProducingDocket,
    calls: Iterable[TaskCall],
    *,
    replace: bool,
    chunk_size: int | None,
) -> list[Execution]:
    """Schedule every call in order; returns one Execution per call."""
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    executions = [_execution(docket, call) for call in calls]
    if not executions:
        return executions
    name = "docket.replace_many" if replace else "docket.add_many"
    attributes = {**docket.labels(), "docket.batch.count": len(executions)}
    with span("docket.docket", name, attributes) as batch_span:
        pending = [e for e in executions if not struck(docket, e)]
        if batch_span is not None:
            batch_span.set_attribute(
                "docket.batch.stricken", len(executions) - len(pending)
            )
        if pending:
            await _place(docket.broker, pending, replace, chunk_size)
    for execution in pending:
        if execution.disposition is not Disposition.FAILED:
            count(docket, execution, replace)
    return executions


# Calls written to Redis at a time while a chunk is built: the first are placed
# while the rest are pickled.
PIECE = 100


async def _place(
    broker: Broker, pending: list[Execution], replace: bool, chunk_size: int | None
) -> None:
    """Place every execution, writing calls as soon as a piece of them is built, so
    building overlaps Redis placing what was written; a chunk's replies are read
    once the next chunk is written. A call that cannot be built stops the batch:
    what was written before it is still recorded."""
    async with broker.queue.schedule_stream() as stream:
        written: deque[tuple[list[Execution], list[ScheduleRequest]]] = deque()
        try:
            for chunk in _chunks(pending, chunk_size):
                before = len(written)
                for piece in _chunks(chunk, min(PIECE, chunk_size or PIECE)):
                    requests = [e.schedule_request(replace) for e in piece]
                    await stream.write(requests)
                    written.append((piece, requests))
                for _ in range(before):  # the chunk before this one
                    _record(*written.popleft(), await stream.read())
        finally:
            while written and stream.unread:  # (a broken connection has none left)
                _record(*written.popleft(), await stream.read())


def _execution(docket: ProducingDocket, call: TaskCall) -> Execution:
    execution = Execution(
        docket,
        call.function,
        tuple(call.args),
        dict(call.kwargs),
        call.key,
        call.when,
        1,
        function_name=call.function_name,
    )
    if call.after:
        execution.after = call.after
        execution.on_parent_failure = call.on_parent_failure
    default, execution.max_queued = task_defaults(call.function)
    if call.priority is None:
        execution.priority = default
    else:
        execution.priority = check_priority(call.priority, "TaskCall.priority")
    return execution


def _record(
    chunk: list[Execution], requests: list[ScheduleRequest], outcomes: list[Any]
) -> None:
    for execution, request, outcome in zip(chunk, requests, outcomes, strict=True):
        if isinstance(outcome, str):
            try:
                execution.scheduled(outcome, request.immediate)
            except (CycleError, UnknownParent, QueueFull) as refused:  # refused
                execution.disposition = Disposition.FAILED
                execution.schedule_exception = refused
        else:
            execution.disposition = Disposition.FAILED
            execution.schedule_exception = outcome


__all__ = [
    "Producer",
    "Placer",
    "ProducingDocket",
    "count",
    "fixed_key",
    "fixed_when",
    "resolve",
    "span_attributes",
    "struck",
    "make_call",
    "schedule_calls",
]
