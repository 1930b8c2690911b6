"""Contextual values, TaskLogger, Progress, admission-control declarations, exports."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import docket.dependencies as dependencies
from docket.dependencies import (
    AdmissionBlocked,
    ConcurrencyBlocked,
    ConcurrencyLimit,
    Cooldown,
    Debounce,
    Dependency,
    Progress,
    RateLimit,
    TaskArgument,
    TaskLogger,
    TaskOutcome,
    current_docket,
    current_execution,
    current_worker,
    format_duration,
)
from docket.execution import Execution


class FakeDocket:
    name = "test-docket"
    tasks: dict[str, Any] = {}

    def labels(self) -> dict[str, str]:
        return {"docket.name": self.name}


class FakeWorker:
    name = "worker-1"


async def the_task(a: int) -> None:
    """A task."""


def make_execution(attempt: int = 2) -> Execution:
    return Execution(
        FakeDocket(),  # type: ignore[arg-type]
        the_task,
        (1,),
        {},
        key="key-9",
        when=datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        attempt=attempt,
        function_name="alias_name",
    )


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0.007, "     7ms"),
        (0.0, "     0ms"),
        (1.5, "  1500ms"),
        (99.9994, " 99999ms"),
        (100.0, "   100s "),
        (12345.0, " 12345s "),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    """Durations under 100 s are milliseconds six wide, longer ones seconds."""
    assert format_duration(seconds) == text


def test_dependency_carries_the_contextvars() -> None:
    """The engine's base class exposes the ContextVars as class attributes."""
    assert getattr(Dependency, "execution") is current_execution  # noqa: B009
    assert getattr(Dependency, "docket") is current_docket  # noqa: B009
    assert getattr(Dependency, "worker") is current_worker  # noqa: B009


def test_exports() -> None:
    """Every public dependency name is importable from docket.dependencies."""
    for name in [
        "Dependency",
        "Runtime",
        "FailureHandler",
        "CompletionHandler",
        "TaskOutcome",
        "AdmissionBlocked",
        "ConcurrencyBlocked",
        "ForcedRetry",
        "current_docket",
        "current_worker",
        "current_execution",
        "format_duration",
        "CurrentDocket",
        "CurrentWorker",
        "CurrentExecution",
        "TaskKey",
        "TaskArgument",
        "TaskLogger",
        "Depends",
        "Shared",
        "SharedContext",
        "Retry",
        "ExponentialRetry",
        "Perpetual",
        "Cron",
        "Timeout",
        "Progress",
        "ConcurrencyLimit",
        "Debounce",
        "Cooldown",
        "RateLimit",
        "DependencyFunction",
        "FailedDependency",
        "get_dependency_parameters",
        "get_annotation_dependencies",
        "validate_dependencies",
        "get_single_dependency_of_type",
        "get_single_dependency_parameter_of_type",
        "resolved_dependencies",
        "_Depends",
        "_parameter_cache",
    ]:
        assert hasattr(dependencies, name), name
    for name in ["Runtime", "FailureHandler", "CompletionHandler"]:
        assert getattr(dependencies, name).single is True


def test_task_outcome_defaults() -> None:
    """TaskOutcome needs only a duration."""
    outcome = TaskOutcome(duration=timedelta(seconds=1))
    assert outcome.result is None
    assert outcome.exception is None


def test_admission_blocked_message_and_flags() -> None:
    """AdmissionBlocked names the key and reason and carries the worker's choices."""
    blocked = AdmissionBlocked(make_execution(), retry_delay=timedelta(seconds=2))
    assert str(blocked) == "Task key-9 blocked by admission control"
    assert (blocked.handled, blocked.reschedule) == (False, True)
    assert blocked.retry_delay == timedelta(seconds=2)

    parked = ConcurrencyBlocked(make_execution(), "p:concurrency:x", 3)
    assert isinstance(parked, AdmissionBlocked)
    assert parked.handled is True
    assert (
        str(parked)
        == "Task key-9 blocked by concurrency limit (3 max) on p:concurrency:x"
    )


async def test_task_logger_adapter_fields(caplog: pytest.LogCaptureFixture) -> None:
    """TaskLogger logs to docket.task.<name> with the execution's fields as extra."""
    declared: Any = TaskLogger()
    tokens = (current_execution.set(make_execution()), current_worker.set(FakeWorker()))  # type: ignore[arg-type]
    try:
        adapter = await declared.__aenter__()
    finally:
        current_worker.reset(tokens[1])
        current_execution.reset(tokens[0])

    assert isinstance(adapter, logging.LoggerAdapter)
    assert adapter.logger.name == "docket.task.alias_name"
    assert adapter.extra == {
        "docket.name": "test-docket",
        "docket.worker": "worker-1",
        "docket.task": "alias_name",
        "docket.key": "key-9",
        "docket.when": "2030-01-02T03:04:05+00:00",
        "docket.attempt": 2,
    }
    with caplog.at_level(logging.INFO, logger="docket.task.alias_name"):
        adapter.info("hello")
    assert getattr(caplog.records[0], "docket.key") == "key-9"


async def test_missing_task_argument_raises_key_error() -> None:
    """A named TaskArgument for an argument not passed raises KeyError."""
    declared: Any = TaskArgument("nope")
    optional: Any = TaskArgument("nope", optional=True)
    token = current_execution.set(make_execution())
    try:
        with pytest.raises(KeyError):
            await declared.__aenter__()
        assert await optional.__aenter__() is None
        assert await TaskArgument("a").__aenter__() == 1
    finally:
        current_execution.reset(token)


class FakeProgress:
    def __init__(self) -> None:
        self.current: int | None = 0
        self.total = 100
        self.message: str | None = None

    async def set_total(self, total: int) -> None:
        self.total = total

    async def increment(self, amount: int = 1) -> None:
        assert self.current is not None
        self.current += amount

    async def set_message(self, message: str | None) -> None:
        self.message = message


async def test_progress_is_bound_to_the_execution() -> None:
    """Progress delegates to the current execution's ExecutionProgress."""
    execution = make_execution()
    fake = FakeProgress()
    execution.progress = fake  # type: ignore[assignment]
    token = current_execution.set(execution)
    try:
        progress = await Progress().__aenter__()
    finally:
        current_execution.reset(token)

    await progress.set_total(10)
    await progress.increment()
    await progress.increment(3)
    await progress.set_message("working")
    assert (progress.current, progress.total, progress.message) == (4, 10, "working")


async def test_progress_outside_a_worker_fails_an_assertion() -> None:
    """An unbound Progress refuses to be used."""
    with pytest.raises(AssertionError):
        await Progress().increment()


def test_concurrency_limit_forms() -> None:
    """The three ConcurrencyLimit forms store what they were given."""
    legacy = ConcurrencyLimit("customer_id", max_concurrent=3, scope="s")
    assert (legacy.argument_name, legacy.max_concurrent, legacy.scope) == (
        "customer_id",
        3,
        "s",
    )
    annotated = ConcurrencyLimit(2)
    assert (annotated.argument_name, annotated.max_concurrent) == (None, 2)
    per_task = ConcurrencyLimit(max_concurrent=4)
    assert (per_task.argument_name, per_task.max_concurrent) == (None, 4)
    assert ConcurrencyLimit().max_concurrent == 1

    bound = annotated.bind_to_parameter("customer_id", "c-1")
    assert bound is not annotated
    assert (bound.argument_name, bound.argument_value) == ("customer_id", "c-1")
    assert annotated.argument_name is None


def test_admission_controls_validate_their_arguments() -> None:
    """Nonsense limits and windows are refused at construction."""
    with pytest.raises(ValueError):
        ConcurrencyLimit(0)
    with pytest.raises(ValueError):
        Debounce(timedelta(0))
    with pytest.raises(ValueError):
        Cooldown(timedelta(seconds=-1))
    with pytest.raises(ValueError):
        RateLimit(0, per=timedelta(seconds=1))
    with pytest.raises(ValueError):
        RateLimit(1, per=timedelta(0))


def test_admission_controls_are_declared_and_available() -> None:
    """The admission controls carry their single flags and available = True."""
    assert ConcurrencyLimit.single is True
    assert Debounce.single is True
    assert Cooldown.single is False
    assert RateLimit.single is False
    for cls in (ConcurrencyLimit, Debounce, Cooldown, RateLimit):
        assert cls.available is True
    assert dependencies.Retry.available is True
    assert dependencies.Timeout.available is True

    limit = RateLimit(5, per=timedelta(minutes=1), drop=True, scope="tenant")
    assert (limit.limit, limit.per, limit.drop, limit.scope) == (
        5,
        timedelta(minutes=1),
        True,
        "tenant",
    )


@pytest.mark.parametrize(
    "dependency",
    [
        ConcurrencyLimit(1),
        Debounce(timedelta(seconds=1)),
        Cooldown(timedelta(seconds=1)),
        RateLimit(1, per=timedelta(seconds=1)),
    ],
)
async def test_entering_a_control_outside_a_worker_raises(dependency: Any) -> None:
    """Admission controls need a worker: entering one elsewhere is a RuntimeError."""
    with pytest.raises(RuntimeError) as raised:
        await dependency.__aenter__()
    assert str(raised.value) == (
        f"{type(dependency).__name__} only works inside a task run by a docket worker"
    )
