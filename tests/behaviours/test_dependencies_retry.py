"""Retry and ExponentialRetry: delay math, per-attempt copies, forced retries, handling."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from docket.dependencies import (
    ExponentialRetry,
    FailureHandler,
    ForcedRetry,
    Retry,
    TaskOutcome,
    current_execution,
)
from docket.execution import Execution


class FakeDocket:
    name = "test-docket"

    def __init__(self) -> None:
        self.tasks: dict[str, Any] = {}

    def labels(self) -> dict[str, str]:
        return {"docket.name": self.name}


async def the_task(a: int, retry: Retry = Retry(attempts=3)) -> None:
    """A task with a retry policy."""


def make_execution(attempt: int = 1) -> Execution:
    execution = Execution(
        FakeDocket(),  # type: ignore[arg-type]
        the_task,
        (1,),
        {},
        key="the-key",
        when=datetime.now(timezone.utc),
        attempt=attempt,
        message_id=b"1-0",
    )
    return execution


class ScheduleRecorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def __call__(
        self, replace: bool = False, reschedule_message: bytes | None = None
    ) -> None:
        self.calls.append(
            {"replace": replace, "reschedule_message": reschedule_message}
        )


def test_retry_defaults() -> None:
    """Retry() means one attempt in total (no retries) and no delay."""
    retry = Retry()
    assert retry.attempts == 1
    assert retry.delay == timedelta(0)
    assert retry.attempt == 1
    assert Retry.single is True
    assert isinstance(retry, FailureHandler)


def test_retry_forever() -> None:
    """Retry.forever() has no attempt limit and keeps the given delay."""
    retry = Retry.forever(delay=timedelta(seconds=2))
    assert retry.attempts is None
    assert retry.delay == timedelta(seconds=2)
    assert type(retry) is Retry


async def test_retry_enters_as_a_copy_for_the_current_attempt() -> None:
    """Entering a Retry yields a copy carrying the execution's attempt number."""
    declared = Retry(attempts=5, delay=timedelta(seconds=3))
    token = current_execution.set(make_execution(attempt=4))
    try:
        entered = await declared.__aenter__()
    finally:
        current_execution.reset(token)
    assert entered is not declared
    assert entered.attempt == 4
    assert entered.attempts == 5
    assert entered.delay == timedelta(seconds=3)
    assert declared.attempt == 1


@pytest.mark.parametrize(
    "attempt, expected_seconds",
    [(1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (6, 32), (7, 64), (8, 64), (100, 64)],
)
async def test_exponential_retry_delay_per_attempt(
    attempt: int, expected_seconds: int
) -> None:
    """With the defaults the waits double from 1 s per attempt and cap at 64 s."""
    declared = ExponentialRetry(attempts=None)
    token = current_execution.set(make_execution(attempt=attempt))
    try:
        entered = await declared.__aenter__()
    finally:
        current_execution.reset(token)
    assert isinstance(entered, ExponentialRetry)
    assert entered.attempt == attempt
    assert entered.delay == timedelta(seconds=expected_seconds)


def test_exponential_retry_custom_bounds() -> None:
    """The delay is min(minimum * 2**(n-1), maximum) with custom bounds."""
    retry = ExponentialRetry(
        attempts=10,
        minimum_delay=timedelta(milliseconds=100),
        maximum_delay=timedelta(seconds=1),
    )
    assert retry.delay == timedelta(milliseconds=100)
    assert retry.delay_for_attempt(1) == timedelta(milliseconds=100)
    assert retry.delay_for_attempt(2) == timedelta(milliseconds=200)
    assert retry.delay_for_attempt(4) == timedelta(milliseconds=800)
    assert retry.delay_for_attempt(5) == timedelta(seconds=1)
    assert retry.delay_for_attempt(10_000) == timedelta(seconds=1)


def test_exponential_retry_forever() -> None:
    """ExponentialRetry.forever() sets attempts=None and keeps its bounds."""
    retry = ExponentialRetry.forever(
        delay=timedelta(seconds=2), maximum_delay=timedelta(seconds=10)
    )
    assert isinstance(retry, ExponentialRetry)
    assert retry.attempts is None
    assert retry.minimum_delay == timedelta(seconds=2)
    assert retry.maximum_delay == timedelta(seconds=10)


def test_after_sets_delay_and_raises() -> None:
    """retry.after(delay) records the delay and raises ForcedRetry."""
    retry = Retry(attempts=3)
    with pytest.raises(ForcedRetry):
        retry.after(timedelta(seconds=7))
    assert retry.delay == timedelta(seconds=7)


def test_at_computes_delay_from_now() -> None:
    """retry.at(when) turns an absolute time into a delay from now."""
    retry = Retry(attempts=3)
    with pytest.raises(ForcedRetry):
        retry.at(datetime.now(timezone.utc) + timedelta(seconds=30))
    assert timedelta(seconds=29) < retry.delay <= timedelta(seconds=30)


def test_at_in_the_past_clamps_to_zero() -> None:
    """retry.at() with a past time retries immediately (delay clamped at 0)."""
    retry = Retry(attempts=3, delay=timedelta(seconds=5))
    with pytest.raises(ForcedRetry):
        retry.at(datetime.now(timezone.utc) - timedelta(hours=1))
    assert retry.delay == timedelta(0)


def test_in_is_a_deprecated_alias_of_after() -> None:
    """retry.in_(delay) sets the delay like after() but warns that it is deprecated."""
    retry = Retry(attempts=3)
    with pytest.warns(DeprecationWarning):
        with pytest.raises(ForcedRetry):
            retry.in_(timedelta(seconds=4))
    assert retry.delay == timedelta(seconds=4)


async def test_handle_failure_declines_when_attempts_are_used_up() -> None:
    """With attempt >= attempts the handler declines and nothing is rescheduled."""
    execution = make_execution(attempt=3)
    recorder = ScheduleRecorder()
    execution.schedule = recorder  # type: ignore[method-assign]
    outcome = TaskOutcome(duration=timedelta(seconds=1), exception=ValueError("x"))
    assert await Retry(attempts=3).handle_failure(execution, outcome) is False
    assert recorder.calls == []
    assert execution.attempt == 3


async def test_handle_failure_reschedules_the_next_attempt(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A retry moves `when` by the delay, bumps the attempt and reschedules in place."""
    execution = make_execution(attempt=1)
    recorder = ScheduleRecorder()
    execution.schedule = recorder  # type: ignore[method-assign]
    before = datetime.now(timezone.utc)
    try:
        raise ValueError("boom")
    except ValueError as error:
        outcome = TaskOutcome(duration=timedelta(milliseconds=7), exception=error)

    with caplog.at_level(logging.INFO, logger="docket.worker"):
        handled = await Retry(attempts=2, delay=timedelta(seconds=10)).handle_failure(
            execution, outcome
        )

    assert handled is True
    assert execution.attempt == 2
    assert before + timedelta(seconds=10) <= execution.when
    assert execution.when <= datetime.now(timezone.utc) + timedelta(seconds=10)
    assert recorder.calls == [{"replace": True, "reschedule_message": b"1-0"}]

    # One WARNING line on the worker's logger, without a traceback: the
    # traceback is logged once, by the attempt that gives up.
    [record] = caplog.records
    assert (record.name, record.levelname) == ("docket.worker", "WARNING")
    assert record.exc_info is None
    assert record.getMessage().startswith("↫ [     7ms] the_task(")
    assert record.getMessage().endswith(
        " attempt 1 of 2 failed (ValueError: boom); retrying in 10s"
    )


async def test_handle_failure_forever_never_declines() -> None:
    """Retry.forever() keeps rescheduling however many attempts have failed."""
    execution = make_execution(attempt=1_000)
    recorder = ScheduleRecorder()
    execution.schedule = recorder  # type: ignore[method-assign]
    outcome = TaskOutcome(duration=timedelta(0), exception=RuntimeError())
    assert await Retry.forever().handle_failure(execution, outcome) is True
    assert execution.attempt == 1_001
