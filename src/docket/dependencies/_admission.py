"""Admission controls: ``Cooldown`` and ``RateLimit``, and their base.

``ConcurrencyLimit`` lives in ``_admission_concurrency``, ``Debounce`` in
``_admission_debounce``. Every control is checked
by one atomic broker script when a worker picks the task up; a blocked execution
raises ``AdmissionBlocked`` (reschedule or drop), which the worker acts on.

Per-task by default (keyed by the function name); used as ``Annotated`` metadata
(``customer: Annotated[int, Cooldown(...)]``) a control is keyed by that argument's
value instead. Each entry works on a fresh copy (``for_parameter`` and
``bind_to_parameter`` both copy), so one declaration serves concurrent executions.

When a control admitted an execution but another control then blocked it, the
admitted control undoes its mark on exit: ``RateLimit`` removes its start,
``Cooldown`` closes the window it opened, and ``Debounce`` makes the execution the
winner again (when it will come back: rescheduled or parked, not dropped) so that
it runs as soon as it does.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from types import TracebackType
from typing import Any, ClassVar

from typing_extensions import Self
from uncalled_for import Dependency

from .. import _clock
from .._broker.admission import PROCEED
from .._handles import WorkerHandle
from .._keys import admission_tag, control_key
from ..execution import Execution
from ._base import AdmissionBlocked, logger
from ._context import current_execution, current_worker

__all__ = ["AdmissionControl", "Cooldown", "RateLimit"]


def check_scope(scope: Any) -> str | None:
    if scope is not None and (not isinstance(scope, str) or not scope):
        raise ValueError(f"scope must be a non-empty string or None, not {scope!r}")
    return scope


def positive_duration(name: str, value: Any) -> timedelta:
    if not isinstance(value, timedelta):
        raise TypeError(f"{name} must be a timedelta, not {type(value).__name__}")
    if value <= timedelta(0):
        raise ValueError(f"{name} must be a positive duration, got {value!r}")
    return value


def milliseconds(value: timedelta) -> int:
    return max(1, int(value.total_seconds() * 1000))


class AdmissionControl(Dependency[Any]):
    """Shared plumbing: per-execution copies, ``Annotated`` binding, the context."""

    available: ClassVar[bool] = True

    argument_name: str | None = None
    argument_value: Any = None
    scope: str | None = None
    _bound: bool = False

    def bind_to_parameter(self, name: str, value: Any) -> Self:
        bound = copy.copy(self)
        bound.argument_name, bound.argument_value, bound._bound = name, value, True
        return bound

    def for_parameter(self, name: str) -> Self:
        return copy.copy(self)

    def _context(self) -> tuple[Execution, WorkerHandle]:
        execution = current_execution.get(None)
        worker = current_worker.get(None)
        if execution is None or worker is None:
            raise RuntimeError(
                f"{type(self).__name__} only works inside a task run by a docket worker"
            )
        return execution, worker

    def _tag(self, execution: Execution) -> str:
        if self._bound:
            return admission_tag("", self.argument_name, self.argument_value)
        return execution.function_name

    @staticmethod
    def _blocked_by_another(exc_type: type[BaseException] | None) -> bool:
        return exc_type is not None and issubclass(exc_type, AdmissionBlocked)

    # The mark this control left when it admitted the execution (None: none), and
    # how to take it back when a later control blocks the same execution.
    _mark: str | None = None
    _undo_what = "admission"

    async def _undo(self, execution: Execution, mark: str) -> None:
        raise NotImplementedError

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._mark is None or not self._blocked_by_another(exc_type):
            return
        execution = current_execution.get()
        try:
            await self._undo(execution, self._mark)
        except Exception as error:
            logger.warning(
                "Could not give back the %s of %s: %s",
                self._undo_what,
                execution.key,
                error,
            )


class Cooldown(AdmissionControl):
    """Leading edge: run the first execution, drop the rest within ``window``.

    The window opens when the first execution starts and simply expires; it is
    not closed when the task finishes. Several cooldowns may guard one task.
    """

    window: timedelta

    def __init__(self, window: timedelta, *, scope: str | None = None) -> None:
        self.window = positive_duration("window", window)
        self.scope = check_scope(scope)
        self._mark = None

    def __repr__(self) -> str:
        return f"Cooldown({self.window!r}, scope={self.scope!r})"

    def _key(self, execution: Execution) -> str:
        name = execution.docket.name
        return control_key(name, self.scope, "cooldown", self._tag(execution))

    async def __aenter__(self) -> Self:
        execution, _ = self._context()
        key = self._key(execution)
        token = f"{execution.generation}:{execution.key}"
        broker = execution.docket.broker
        if not await broker.admission.cooldown(key, token, milliseconds(self.window)):
            raise AdmissionBlocked(execution, f"cooldown on {key}", reschedule=False)
        self._mark = token
        return self

    _undo_what = "cooldown window"

    async def _undo(self, execution: Execution, mark: str) -> None:
        await execution.docket.broker.admission.cooldown_release(
            self._key(execution), mark
        )


class RateLimit(AdmissionControl):
    """Sliding window: at most ``limit`` starts per ``per``.

    A blocked execution is rescheduled for the moment a start leaves the window,
    or dropped (``CANCELLED``) with ``drop=True``. A start counts even if the task
    then fails; it is given back only when another control blocks the execution.
    """

    limit: int
    per: timedelta
    drop: bool

    def __init__(
        self,
        limit: int,
        *,
        per: timedelta,
        drop: bool = False,
        scope: str | None = None,
    ) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise TypeError(f"limit must be an int, not {type(limit).__name__}")
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        if not isinstance(drop, bool):
            raise TypeError(f"drop must be a bool, not {type(drop).__name__}")
        self.limit = limit
        self.per = positive_duration("per", per)
        self.drop = drop
        self.scope = check_scope(scope)
        self._mark = None

    def __repr__(self) -> str:
        return (
            f"RateLimit({self.limit!r}, per={self.per!r}, drop={self.drop!r}, "
            f"scope={self.scope!r})"
        )

    def _key(self, execution: Execution) -> str:
        name = execution.docket.name
        return control_key(name, self.scope, "ratelimit", self._tag(execution))

    async def __aenter__(self) -> Self:
        execution, _ = self._context()
        key = self._key(execution)
        now_ms = int(_clock.time() * 1000)
        start = execution.started_at
        start_ms = now_ms if start is None else int(start.timestamp() * 1000)
        member = f"{execution.key}:{start_ms}"
        action, retry_ms = await execution.docket.broker.admission.rate_limit(
            key, member, now_ms, milliseconds(self.per), self.limit
        )
        if action == PROCEED:
            self._mark = member
            return self
        reason = f"rate limit ({self.limit} per {self.per}) on {key}"
        if self.drop:
            raise AdmissionBlocked(execution, reason, reschedule=False)
        raise AdmissionBlocked(
            execution, reason, retry_delay=timedelta(milliseconds=retry_ms)
        )

    _undo_what = "rate-limit start"

    async def _undo(self, execution: Execution, mark: str) -> None:
        await execution.docket.broker.admission.rate_limit_release(
            self._key(execution), mark
        )
