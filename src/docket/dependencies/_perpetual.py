"""``Perpetual`` and ``Cron``: completion handlers that schedule a successor run.

Spec 5.11 and 5.12. The successor is written with ``docket.replace`` under the
same key, which bumps the generation; a run that finds itself superseded (someone
replaced the key while it ran) schedules nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, ClassVar

from cronsim import CronSim
from typing_extensions import Self

from .. import _clock
from .. import instrumentation as m
from .._codec.message import DEFAULT_PRIORITY
from .._redis.faults import through_faults
from ..execution import Execution
from ._base import (
    CompletionHandler,
    TaskOutcome,
    handler_labels,
    log_extra,
    logger,
    run_logger,
)
from ._context import current_execution, format_duration


class Perpetual(CompletionHandler["Perpetual"]):
    """Reschedule the task under the same key after every run.

    The next run starts ``every`` after this one started (immediately if this run
    overran), unless ``after``/``at`` chose an exact time. ``cancel()`` ends the
    chain and ``perpetuate(*args, **kwargs)`` changes the next run's arguments.
    """

    available: ClassVar[bool] = True

    every: timedelta
    automatic: bool
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    cancelled: bool

    def __init__(
        self, every: timedelta = timedelta(0), automatic: bool = False
    ) -> None:
        self.every = every
        self.automatic = automatic
        self.args = ()
        self.kwargs = {}
        self.cancelled = False
        self._next_when: datetime | None = None

    @property
    def initial_when(self) -> datetime | None:
        """When an automatic seed should first run; None means "now"."""
        return None

    def _for_execution(self, execution: Execution) -> Self:
        perpetual = copy.copy(self)
        perpetual.args = tuple(execution.args)
        perpetual.kwargs = dict(execution.kwargs)
        perpetual.cancelled = False
        perpetual._next_when = None
        return perpetual

    async def __aenter__(self) -> Self:
        return self._for_execution(current_execution.get())

    def cancel(self) -> None:
        """Do not schedule a successor after this run."""
        self.cancelled = True

    def perpetuate(self, *args: Any, **kwargs: Any) -> None:
        """Run the successor with these arguments instead of this run's."""
        self.args = args
        self.kwargs = kwargs

    def after(self, delay: timedelta) -> None:
        """Schedule the successor ``delay`` from now."""
        self._next_when = _clock.utcnow() + delay

    def at(self, when: datetime) -> None:
        """Schedule the successor at exactly ``when``."""
        self._next_when = when

    def next_when(self, outcome: TaskOutcome) -> datetime:
        """The time of the successor run for a run that took ``outcome.duration``."""
        if self._next_when is not None:
            return self._next_when
        now = _clock.utcnow()
        # Under a virtual clock a run takes no time: the clock stood still.
        took = outcome.duration if _clock.is_real() else timedelta(0)
        return max(now, now + self.every - took)

    async def on_complete(self, execution: Execution, outcome: TaskOutcome) -> bool:
        docket = execution.docket

        duration = format_duration(outcome.duration.total_seconds())
        extra = log_extra(execution, outcome)

        if self.cancelled:
            # Stopping the chain schedules no successor; this run still ends as
            # its body did (its result stands), and a replace made while it ran
            # stands too.
            if await execution.is_superseded():
                self._superseded(execution, duration, extra)
            return False

        def fault(error: BaseException) -> None:
            logger.warning(
                "Scheduling the successor of %s failed (%s); retrying",
                execution.call_repr(),
                error,
                extra=extra,
            )

        # The successor is scheduled exactly once: Redis faults are waited out
        # here (replacing under the same key is safe to repeat), never turned
        # into a failed run that a handler or a redelivery would repeat.
        if await through_faults(execution.is_superseded, fault):
            self._superseded(execution, duration, extra)
            return True

        when = self.next_when(outcome)
        # Keep the registered name (an alias stays an alias) when the docket
        # knows it; otherwise register the function under its own name.
        name = execution.function_name
        if docket.tasks.get(name) is not execution.function:
            docket.register(execution.function)
            name = execution.function.__name__
        if execution.priority == DEFAULT_PRIORITY:
            successor = docket.replace(name, when, execution.key)
        else:  # a run of another priority hands it on
            successor = docket.replace(
                name, when, execution.key, priority=execution.priority
            )
        await through_faults(lambda: successor(*self.args, **self.kwargs), fault)

        m.TASKS_PERPETUATED.add(1, handler_labels(execution))

        if outcome.exception is not None:
            run_logger.error(
                "↩ [%s] %s failed; its successor is scheduled",
                duration,
                execution.call_repr(),
                exc_info=outcome.exception,
                extra=extra,
            )
        run_logger.info("↫ [%s] %s", duration, execution.call_repr(), extra=extra)
        return True

    def _superseded(
        self, execution: Execution, duration: str, extra: dict[str, Any]
    ) -> None:
        m.TASKS_SUPERSEDED.add(
            1, {**handler_labels(execution), "docket.where": "on_complete"}
        )
        run_logger.info(
            "↬ [%s] %s (superseded)", duration, execution.call_repr(), extra=extra
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(every={self.every!r}, automatic={self.automatic!r})"
        )


CRON_KEYWORDS: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def expand_cron_expression(expression: str) -> str:
    """Replace a ``@keyword`` with its five-field form; other text is unchanged."""
    stripped = expression.strip()
    return CRON_KEYWORDS.get(stripped.lower(), stripped)


class Cron(Perpetual):
    """Run the task at the wall-clock times matching a cron ``expression`` in ``tz``.

    Invalid expressions raise (``cronsim.CronSimError``) at construction. Each
    object owns an iterator that starts when it is constructed; the copy entered
    for a run starts its own iterator at the start of that run.
    """

    expression: str
    tz: tzinfo

    def __init__(
        self,
        expression: str,
        automatic: bool = True,
        tz: tzinfo = timezone.utc,
    ) -> None:
        super().__init__(automatic=automatic)
        self.expression = expand_cron_expression(expression)
        self.tz = tz
        self._iterator = self._iterate_from(_clock.utcnow(tz))

    def _iterate_from(self, start: datetime) -> Iterator[datetime]:
        return CronSim(self.expression, start.astimezone(self.tz))

    def next_time(self) -> datetime:
        """Advance this object's iterator and return the next matching time."""
        return next(self._iterator)

    @property
    def initial_when(self) -> datetime | None:
        """The first match after now (read when an automatic task is seeded)."""
        self._iterator = self._iterate_from(_clock.utcnow(self.tz))
        return self.next_time()

    def _for_execution(self, execution: Execution) -> Self:
        cron = super()._for_execution(execution)
        cron._iterator = cron._iterate_from(_clock.utcnow(self.tz))
        return cron

    async def on_complete(self, execution: Execution, outcome: TaskOutcome) -> bool:
        self.at(self.next_time())
        return await super().on_complete(execution, outcome)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.expression!r}, "
            f"automatic={self.automatic!r}, tz={self.tz!r})"
        )
