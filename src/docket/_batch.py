"""``Docket.call`` and the batch methods ``add_many`` / ``replace_many``.

Every call keeps the meaning of a single ``add`` (or ``replace``): strikes are
checked first (struck calls never reach Redis), then each execution is placed by
its own call of the atomic schedule script. The calls of a chunk share one
pipelined round trip; a Redis error for one of them fails only that execution
(``Disposition.FAILED``, the error in ``schedule_exception``). Errors while a chunk
is built (an argument that cannot be pickled, a naive ``when``) and lost
connections propagate: chunks already sent stay scheduled, the others keep
``LOADED``, and no scheduling counter is recorded for the batch.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from ._broker import Broker, ScheduleRequest
from ._observe import span
from ._producer import (
    Producer,
    SchedulingDocket,
    count,
    fixed_key,
    fixed_when,
    resolve,
    struck,
)
from ._states import Disposition
from ._taskcall import TaskCall
from .execution import Execution


def make_call(
    docket: Producer,
    function: Callable[..., Any] | str,
    when: datetime | None,
    key: str | None,
) -> Callable[..., TaskCall]:
    """A function that captures its arguments as a TaskCall (no I/O, no pickling).

    The task is resolved (and registered) and ``when`` and ``key`` are fixed now, so
    every TaskCall it returns shares them."""
    task, name = resolve(docket, function)
    at, under = fixed_when(when), fixed_key(key)

    def capture(*args: Any, **kwargs: Any) -> TaskCall:
        return TaskCall(task, args, dict(kwargs), under, at, name)

    return capture


def _chunks(items: list[Execution], size: int | None) -> Iterable[list[Execution]]:
    step = size or max(len(items), 1)
    for start in range(0, len(items), step):
        yield items[start : start + step]


async def schedule_calls(
    docket: SchedulingDocket,
    calls: Iterable[TaskCall],
    *,
    replace: bool,
    chunk_size: int | None,
) -> list[Execution]:
    """Schedule every call in order; returns one Execution per call."""
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    executions = [
        Execution(
            docket,
            call.function,
            tuple(call.args),
            dict(call.kwargs),
            call.key,
            call.when,
            1,
            function_name=call.function_name,
        )
        for call in calls
    ]
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
    async with broker.schedule_stream() as stream:
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


def _record(
    chunk: list[Execution], requests: list[ScheduleRequest], outcomes: list[Any]
) -> None:
    for execution, request, outcome in zip(chunk, requests, outcomes, strict=True):
        if isinstance(outcome, str):
            execution.scheduled(outcome, request.immediate)
        else:
            execution.disposition = Disposition.FAILED
            execution.schedule_exception = outcome


__all__ = ["make_call", "schedule_calls"]
