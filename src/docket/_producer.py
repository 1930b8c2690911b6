"""What ``add``, ``replace``, ``call`` and the batch methods share: resolving the
task, fixing its time and key, the producer-side strike check and the counters."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from . import _codec
from . import instrumentation as m
from ._handles import DocketHandle, TaskFunction
from ._keys import GeneratedKey, check_task_key
from ._observe import span, tracing_enabled
from ._states import Disposition
from ._uuid7 import uuid7
from .execution import Execution
from .strikelist import StrikeList

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


class SchedulingDocket(Producer, DocketHandle, Protocol):
    """The docket as ``Scheduler`` sees it (it builds executions on it)."""


class Scheduler:
    """What ``Docket.add`` and ``replace`` return: each call schedules one execution.

    A small object rather than a closure: an add in flight then holds one object
    where a closure holds a function and six cells, and the garbage collector, which
    scans every object alive, runs less often and faster when thousands are."""

    __slots__ = ("_docket", "_task", "_name", "_when", "_key", "_replace")

    def __init__(
        self,
        docket: SchedulingDocket,
        function: Callable[..., Any] | str,
        when: datetime | None,
        key: str | None,
        replace: bool,
    ) -> None:
        self._docket = docket
        self._task, self._name = resolve(docket, function)
        self._when, self._key = fixed_when(when), fixed_key(key)
        self._replace = replace

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
        if tracing_enabled():
            return await _schedule_traced(docket, execution, replace)
        if not struck(docket, execution):
            await execution.schedule(replace=replace)
            count(docket, execution, replace)
        return execution


async def _schedule_traced(
    docket: SchedulingDocket, execution: Execution, replace: bool
) -> Execution:
    """A scheduler call under a span (only while a tracer provider is installed)."""
    span_name = "docket.replace" if replace else "docket.add"
    with span("docket.docket", span_name, span_attributes(docket, execution)) as s:
        if struck(docket, execution):
            s.set_attribute("docket.disposition", "struck")
            return execution
        disposition = await execution.schedule(replace=replace)
        s.set_attribute("docket.disposition", disposition.value)
    count(docket, execution, replace)
    return execution


__all__ = [
    "Producer",
    "Scheduler",
    "SchedulingDocket",
    "count",
    "fixed_key",
    "fixed_when",
    "resolve",
    "span_attributes",
    "struck",
]
