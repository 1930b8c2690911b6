"""``ConcurrencyLimit``: at most N executions at once per slot key.

Admission is one script (``concurrency_acquire.lua``): take a slot, or park the
message on ``<slot key>:waiters`` (first in, first out) and raise
``ConcurrencyBlocked``. While held, the slot's score is renewed every quarter of
``redelivery_timeout``; on exit (any outcome) the slot is released and the oldest
waiters are woken onto the stream with their slot reserved. Holders that stop
renewing are evicted after ``redelivery_timeout``. A safeguard task
(``__safeguard__:K`` running ``_safeguard_wake``) repeats the eviction and wake
every ``redelivery_timeout`` while K stays parked, in case no holder is left to
wake it. Cancelled waiters never run: a wake only forwards a waiter whose record
is still parked at that entry, and the worker lifecycle hook cleans them up at
once when their cancel is announced.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, overload

from typing_extensions import Self
from uncalled_for import Dependency, get_signature

from .. import _clock
from .._broker.admission import SlotTimes
from .._handles import DocketHandle, WorkerHandle
from .._keys import admission_tag, concurrency_key
from ..execution import Execution
from ._admission import AdmissionControl, check_scope
from ._admission_safeguard import lifecycle, schedule_safeguard
from ._base import ConcurrencyBlocked, logger
from ._context import current_execution, current_worker

__all__ = ["ConcurrencyLimit"]


class ConcurrencyLimit(AdmissionControl):
    """Limit how many executions run at once, per task or per argument value.

    Forms: ``ConcurrencyLimit(max_concurrent, /, *, scope=None)`` as ``Annotated``
    metadata; ``ConcurrencyLimit(argument_name, max_concurrent=1, scope=None)`` as
    a default grouping by that argument; ``ConcurrencyLimit(*, max_concurrent=1,
    scope=None)`` for a per-task limit. An int first argument is ``max_concurrent``.
    """

    single: bool = True

    max_concurrent: int

    @overload
    def __init__(self, max_concurrent: int, /, *, scope: str | None = None) -> None: ...
    @overload
    def __init__(
        self,
        argument_name: str,
        max_concurrent: int = 1,
        scope: str | None = None,
    ) -> None: ...
    @overload
    def __init__(
        self, *, max_concurrent: int = 1, scope: str | None = None
    ) -> None: ...
    def __init__(
        self,
        argument_name: str | int | None = None,
        max_concurrent: int = 1,
        scope: str | None = None,
    ) -> None:
        if isinstance(argument_name, int) and not isinstance(argument_name, bool):
            max_concurrent = argument_name
            argument_name = None
        if argument_name is not None and (
            not isinstance(argument_name, str) or not argument_name
        ):
            raise TypeError(
                f"argument_name must be a non-empty str or None, not {argument_name!r}"
            )
        if isinstance(max_concurrent, bool) or not isinstance(max_concurrent, int):
            raise TypeError(
                f"max_concurrent must be an int, not {type(max_concurrent).__name__}"
            )
        if max_concurrent < 1:
            raise ValueError(f"max_concurrent must be at least 1, got {max_concurrent}")
        self.argument_name = argument_name
        self.argument_value = None
        self.max_concurrent = max_concurrent
        self.scope = check_scope(scope)
        self._slot: str | None = None
        self._concurrency_key: str | None = None
        self._renewal: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return (
            f"ConcurrencyLimit(argument_name={self.argument_name!r}, "
            f"max_concurrent={self.max_concurrent!r}, scope={self.scope!r})"
        )

    @property
    def concurrency_key(self) -> str:
        """The slot key this instance admitted its execution under.

        Only known inside a task run: a declaration that was never entered raises
        ``RuntimeError``."""
        if self._concurrency_key is None:
            raise RuntimeError(
                "ConcurrencyLimit not initialized - use within task context"
            )
        return self._concurrency_key

    def bind_to_parameter(self, name: str, value: Any) -> Self:
        """As ``Annotated`` metadata: group by this parameter's value, unless the
        declaration names another argument (``ConcurrencyLimit("db", 2)`` on any
        parameter groups by ``db``)."""
        if self.argument_name is not None and self.argument_name != name:
            return copy.copy(self)
        return super().bind_to_parameter(name, value)

    @classmethod
    def worker_lifecycle(
        cls, docket: DocketHandle, worker: WorkerHandle
    ) -> AbstractAsyncContextManager[None]:
        """Per session: register ``_safeguard_wake`` and clean up cancelled waiters."""
        return lifecycle(docket, worker)

    def slot_key(self, execution: Execution) -> str:
        """The slot key this limit uses for ``execution``."""
        prefix = execution.docket.keyspace.prefix
        if self._bound:
            tag = admission_tag("", self.argument_name, self.argument_value)
        elif self.argument_name is not None:
            value = _argument(execution, self.argument_name)
            tag = admission_tag("", self.argument_name, value)
        else:
            tag = execution.function_name
        return concurrency_key(prefix, self.scope, tag)

    async def __aenter__(self) -> Self:
        execution, worker = self._context()
        slot = self.slot_key(execution)
        self._concurrency_key = slot
        redelivery = worker.redelivery_timeout.total_seconds()
        times = SlotTimes(_clock.time(), redelivery)
        broker = execution.docket.broker
        admission = await broker.admission.concurrency_acquire(
            slot,
            execution.key,
            execution.generation,
            execution.message_id,
            execution.redelivered,
            self.max_concurrent,
            times,
            execution.as_message(),
        )
        if admission.acquired:
            self._slot = slot
            self._renewal = asyncio.ensure_future(
                _renew(execution, slot, redelivery, times.ttl_ms)
            )
            return self
        execution.acknowledged = True  # the park acknowledged the message
        await schedule_safeguard(
            execution.docket, execution.key, slot, self.max_concurrent, redelivery
        )
        current = await broker.runs.record(execution.key)
        if current is None or current.waiter_entry_id != admission.entry_id:
            await broker.admission.concurrency_cleanup(
                execution.key, "safeguard", admission.entry_id
            )
        raise ConcurrencyBlocked(execution, slot, self.max_concurrent)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        renewal, self._renewal = self._renewal, None
        if renewal is not None:
            renewal.cancel()
            await asyncio.gather(renewal, return_exceptions=True)
        slot, self._slot = self._slot, None
        if slot is None:
            return
        execution = current_execution.get()
        worker = current_worker.get()
        times = SlotTimes(_clock.time(), worker.redelivery_timeout.total_seconds())
        try:
            await execution.docket.broker.admission.concurrency_release(
                slot, execution.key, self.max_concurrent, times
            )
        except Exception as error:  # it goes stale and is evicted after the timeout
            logger.warning(
                "Could not release the concurrency slot of %s on %s: %s",
                execution.key,
                slot,
                error,
            )


def _argument(execution: Execution, name: str) -> Any:
    """The named argument of the call (defaults applied), or a clear ValueError."""
    try:
        bound = get_signature(execution.function).bind(
            *execution.args, **execution.kwargs
        )
        bound.apply_defaults()
        arguments = dict(bound.arguments)
    except TypeError:
        arguments = dict(execution.kwargs)
    for parameter in get_signature(execution.function).parameters.values():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            arguments.update(arguments.pop(parameter.name, {}))
        elif isinstance(parameter.default, Dependency):
            arguments.pop(parameter.name, None)
    if name not in arguments:
        raise ValueError(
            f"ConcurrencyLimit argument '{name}' not found in task arguments. "
            f"Available: {sorted(arguments)}"
        )
    return arguments[name]


async def _renew(
    execution: Execution, slot: str, redelivery: float, ttl_ms: int
) -> None:
    """Refresh the held slot every quarter of the redelivery timeout (best effort)."""
    broker = execution.docket.broker
    while True:
        await asyncio.sleep(redelivery / 4)
        try:
            await broker.admission.concurrency_renew(
                slot, execution.key, _clock.time(), ttl_ms
            )
        except Exception as error:
            logger.warning(
                "Could not renew the concurrency slot of %s: %s", execution.key, error
            )
