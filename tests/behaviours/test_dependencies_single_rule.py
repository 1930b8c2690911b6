"""The single rule, at resolution and in validate_dependencies, and the type lookups."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import pytest

from docket.dependencies import (
    Cron,
    Dependency,
    ExponentialRetry,
    FailureHandler,
    Perpetual,
    ResolvedDependencies,
    Retry,
    TaskKey,
    Timeout,
    current_execution,
    get_single_dependency_of_type,
    get_single_dependency_parameter_of_type,
    has_dependencies,
    resolved_dependencies,
    validate_dependencies,
)
from tests.behaviours._dependencies_helpers import (
    CustomFailureHandler,
    CustomRuntime,
    FakeWorker,
    Wrapper,
    make_execution,
)


async def test_worker_and_task_timeouts_conflict() -> None:
    """A worker-level Timeout plus a task-level one fails with the cross-level message."""
    worker = FakeWorker({"timeout": Timeout(timedelta(seconds=1))})

    async def task(timeout: Timeout = Timeout(timedelta(seconds=2))) -> None:
        """A task with its own timeout."""

    for _ in range(2):  # the second time comes from the cache
        with pytest.raises(ValueError) as raised:
            async with resolved_dependencies(worker, make_execution(worker, task)):  # type: ignore[arg-type]
                pass  # pragma: no cover
        assert str(raised.value) == (
            "Only one Timeout dependency is allowed, but found at: 'timeout', "
            "'timeout'. Declare it in exactly one place (task or worker)."
        )
    assert current_execution.get(None) is None


async def test_worker_and_task_handlers_of_one_base_conflict() -> None:
    """Different handlers under one single base conflict across levels."""
    worker = FakeWorker({"runtime": CustomRuntime()})

    async def task(timeout: Timeout = Timeout(timedelta(seconds=2))) -> None:
        """A task with a timeout on a worker with a custom runtime."""

    with pytest.raises(ValueError) as raised:
        async with resolved_dependencies(worker, make_execution(worker, task)):  # type: ignore[arg-type]
            pass  # pragma: no cover
    assert str(raised.value) == (
        "Only one Runtime dependency is allowed, but found: CustomRuntime, Timeout"
    )


def test_validate_duplicate_single_dependencies() -> None:
    """Two dependencies of one single type are refused with the plain message."""

    async def task(a: Retry = Retry(), b: Retry = Retry()) -> None:
        """Two retries."""

    with pytest.raises(ValueError) as raised:
        validate_dependencies(task)
    assert str(raised.value) == "Only one Retry dependency is allowed"


def test_validate_counts_annotated_dependencies() -> None:
    """Annotated dependencies count toward the single rule too."""

    async def task(
        x: Annotated[int, Timeout(timedelta(seconds=1))],
        t: Timeout = Timeout(timedelta(seconds=2)),
    ) -> None:
        """A timeout twice."""

    with pytest.raises(ValueError, match="^Only one Timeout dependency is allowed$"):
        validate_dependencies(task)


@pytest.mark.parametrize(
    "first, second, message",
    [
        (
            Timeout(timedelta(seconds=1)),
            CustomRuntime(),
            "Only one Runtime dependency is allowed, but found: Timeout, CustomRuntime",
        ),
        (
            Retry(),
            CustomFailureHandler(),
            "Only one FailureHandler dependency is allowed, but found: "
            "Retry, CustomFailureHandler",
        ),
        (
            Retry(),
            ExponentialRetry(),
            "Only one Retry dependency is allowed, but found: Retry, ExponentialRetry",
        ),
        (
            Perpetual(),
            Cron("@daily"),
            "Only one Perpetual dependency is allowed, but found: Perpetual, Cron",
        ),
    ],
)
def test_validate_base_class_conflicts(
    first: Dependency[Any], second: Dependency[Any], message: str
) -> None:
    """Different types under one single base are refused, naming both."""

    async def task(a: Any = first, b: Any = second) -> None:
        """Two handlers of one role."""

    with pytest.raises(ValueError) as raised:
        validate_dependencies(task)
    assert str(raised.value) == message


def test_validate_allows_non_single_repeats() -> None:
    """Repeated non-single dependencies are fine."""

    async def task(a: str = TaskKey(), b: str = TaskKey(), r: Retry = Retry()) -> None:
        """Two keys and a retry."""

    validate_dependencies(task)


def test_has_dependencies() -> None:
    """has_dependencies tells plain tasks from ones that declare dependencies."""

    async def plain(a: int, b: str = "x") -> None:
        """No dependencies."""

    async def with_default(key: str = TaskKey()) -> None:
        """A default-value dependency."""

    async def with_annotation(x: Annotated[int, Wrapper()]) -> None:
        """An annotated dependency."""

    assert has_dependencies(plain) is False
    assert has_dependencies(with_default) is True
    assert has_dependencies(with_annotation) is True


def test_get_single_dependency_parameter_of_type() -> None:
    """The declared dependency of a type is found in defaults or annotations."""
    cron = Cron("@hourly")

    async def by_default(p: Perpetual = cron) -> None:
        """Declared as a default."""

    async def by_annotation(x: Annotated[int, Cron("@daily")]) -> None:
        """Declared in an annotation."""

    async def neither() -> None:
        """Declares nothing."""

    assert get_single_dependency_parameter_of_type(by_default, Perpetual) is cron
    found = get_single_dependency_parameter_of_type(by_annotation, Perpetual)
    assert isinstance(found, Cron)
    assert found.expression == "0 0 * * *"
    assert get_single_dependency_parameter_of_type(neither, Perpetual) is None


def test_get_single_dependency_of_type_on_a_plain_dict() -> None:
    """A plain mapping of values is searched by value type."""
    retry = Retry()
    assert get_single_dependency_of_type({"a": 1, "r": retry}, FailureHandler) is retry
    assert get_single_dependency_of_type({"a": 1}, Retry) is None
    assert get_single_dependency_of_type(ResolvedDependencies(), Retry) is None
