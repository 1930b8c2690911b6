"""``Retry`` and ``ExponentialRetry``: failure handlers that reschedule the task."""

from __future__ import annotations

import copy
import warnings
from datetime import datetime, timedelta
from typing import ClassVar, NoReturn

from typing_extensions import Self

from .. import _clock
from .. import instrumentation as m
from .._codec import error_text
from ..execution import Disposition, Execution
from ._base import (
    FailureHandler,
    ForcedRetry,
    TaskOutcome,
    handler_labels,
    log_extra,
    run_logger,
)
from ._context import current_execution, format_duration


def _in(delay: timedelta) -> str:
    """``now``, ``in 250ms``, ``in 1.5s``, ``in 2m 00s``: when the next attempt runs."""
    seconds = delay.total_seconds()
    if seconds <= 0:
        return "now"
    if seconds < 1:
        return f"in {seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"in {seconds:.3g}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"in {minutes}m {rest:02d}s"


class Retry(FailureHandler["Retry"]):
    """Retry a failed task, up to ``attempts`` attempts in total, after ``delay``.

    ``attempts`` counts every attempt, so the default of 1 means "never retry";
    None means "retry forever". When entered, a per-execution copy is injected
    whose ``attempt`` is the execution's attempt number (starting from 1).
    """

    available: ClassVar[bool] = True

    attempts: int | None
    delay: timedelta
    attempt: int

    def __init__(
        self, attempts: int | None = 1, delay: timedelta = timedelta(0)
    ) -> None:
        self.attempts = attempts
        self.delay = delay
        self.attempt = 1

    @classmethod
    def forever(cls, delay: timedelta = timedelta(0)) -> Self:
        """A ``Retry`` without an attempt limit."""
        return cls(attempts=None, delay=delay)

    def _for_attempt(self, attempt: int) -> Self:
        retry = copy.copy(self)
        retry.attempt = attempt
        return retry

    async def __aenter__(self) -> Self:
        return self._for_attempt(current_execution.get().attempt)

    def after(self, delay: timedelta) -> NoReturn:
        """End this attempt now and retry it after ``delay``."""
        self.delay = delay
        raise ForcedRetry()

    def at(self, when: datetime) -> NoReturn:
        """End this attempt now and retry it at ``when`` (immediately if it is past)."""
        delay = when - _clock.utcnow()
        self.after(max(delay, timedelta(0)))

    def in_(self, delay: timedelta) -> NoReturn:
        """Deprecated alias of ``after``."""
        self.delay = delay
        warnings.warn(
            "Retry.in_() is deprecated; use Retry.after() instead",
            DeprecationWarning,
            stacklevel=2,
        )
        raise ForcedRetry()

    async def handle_failure(self, execution: Execution, outcome: TaskOutcome) -> bool:
        if self.attempts is not None and execution.attempt >= self.attempts:
            return False

        execution.when = _clock.utcnow() + self.delay
        execution.attempt += 1
        placed = await execution.schedule(
            replace=True, reschedule_message=execution.message_id
        )
        duration = format_duration(outcome.duration.total_seconds())
        if placed is Disposition.SUPERSEDED:
            # The key was replaced while this attempt ran: the replacement keeps
            # its own time and arguments, and no retry is scheduled.
            m.TASKS_SUPERSEDED.add(
                1, {**handler_labels(execution), "docket.where": "retry"}
            )
            run_logger.info(
                "↬ [%s] %s (superseded)",
                duration,
                execution.call_repr(),
                extra=log_extra(execution, outcome),
            )
            return True
        if placed is Disposition.SCHEDULED:  # the per-minute "retried" count
            execution.docket.broker.tally.add("retried", execution.function_name)

        m.TASKS_RETRIED.add(1, handler_labels(execution))

        # One line per retried attempt, without its traceback: the traceback is
        # logged once, with the attempt that gives up (or never, if one succeeds).
        failed = execution.attempt - 1
        of = "" if self.attempts is None else f" of {self.attempts}"
        error = outcome.exception
        if error is None or isinstance(error, ForcedRetry):
            why = "asked to retry"
        else:
            why = f"failed ({error_text(error)})"
        run_logger.warning(
            "↫ [%s] %s attempt %d%s %s; retrying %s",
            duration,
            execution.call_repr(),
            failed,
            of,
            why,
            _in(self.delay),
            extra=log_extra(execution, outcome),
        )
        return True

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(attempts={self.attempts!r}, delay={self.delay!r})"
        )


class ExponentialRetry(Retry):
    """A ``Retry`` whose delay doubles with every attempt, up to ``maximum_delay``.

    The copy entered for attempt ``n`` waits ``min(minimum_delay * 2**(n-1),
    maximum_delay)`` after a failure: 1 s, 2 s, 4 s, 8 s... with the defaults.
    """

    minimum_delay: timedelta
    maximum_delay: timedelta

    def __init__(
        self,
        attempts: int | None = 1,
        minimum_delay: timedelta = timedelta(seconds=1),
        maximum_delay: timedelta = timedelta(seconds=64),
    ) -> None:
        super().__init__(attempts=attempts, delay=minimum_delay)
        self.minimum_delay = minimum_delay
        self.maximum_delay = maximum_delay

    @classmethod
    def forever(
        cls,
        delay: timedelta = timedelta(seconds=1),
        maximum_delay: timedelta = timedelta(seconds=64),
    ) -> Self:
        """An ``ExponentialRetry`` without an attempt limit."""
        return cls(attempts=None, minimum_delay=delay, maximum_delay=maximum_delay)

    def delay_for_attempt(self, attempt: int) -> timedelta:
        """The wait after a failure of attempt number ``attempt`` (1-based)."""
        if attempt <= 1:
            return self.minimum_delay
        maximum = self.maximum_delay.total_seconds()
        # Compare in seconds before multiplying so a huge attempt number cannot
        # overflow timedelta.
        exponent = attempt - 1
        minimum = self.minimum_delay.total_seconds()
        if minimum <= 0:
            return self.minimum_delay
        if exponent >= 1024 or minimum * 2.0**exponent >= maximum:
            return self.maximum_delay
        return self.minimum_delay * (2**exponent)

    def _for_attempt(self, attempt: int) -> Self:
        retry = super()._for_attempt(attempt)
        retry.delay = self.delay_for_attempt(attempt)
        return retry

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(attempts={self.attempts!r}, "
            f"minimum_delay={self.minimum_delay!r}, "
            f"maximum_delay={self.maximum_delay!r})"
        )
