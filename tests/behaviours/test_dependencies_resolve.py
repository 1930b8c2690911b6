"""Per-execution resolution, worker-level dependencies and TaskArgument."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from typing import Annotated, Any

from docket.dependencies import (
    CompletionHandler,
    CurrentDocket,
    CurrentExecution,
    CurrentWorker,
    Depends,
    FailedDependency,
    FailureHandler,
    Perpetual,
    Retry,
    Runtime,
    TaskArgument,
    TaskKey,
    Timeout,
    current_docket,
    current_execution,
    current_worker,
    get_single_dependency_of_type,
    resolved_dependencies,
)
from tests.behaviours._dependencies_helpers import (
    Exploding,
    FakeWorker,
    Recorder,
    Wrapper,
    make_execution,
)


async def test_contextual_dependencies_and_contextvars() -> None:
    """Contextual dependencies see the worker, docket and execution; vars reset after."""
    worker = FakeWorker()

    async def task(
        docket: Any = CurrentDocket(),
        the_worker: Any = CurrentWorker(),
        execution: Any = CurrentExecution(),
        key: str = TaskKey(),
    ) -> None:
        """A task that asks for its context."""

    execution = make_execution(worker, task)
    async with resolved_dependencies(worker, execution) as resolved:  # type: ignore[arg-type]
        assert current_execution.get() is execution
        assert current_worker.get() is worker
        assert current_docket.get() is worker.docket
        assert resolved == {
            "docket": worker.docket,
            "the_worker": worker,
            "execution": execution,
            "key": "key-1",
        }
    assert current_execution.get(None) is None
    assert current_worker.get(None) is None
    assert current_docket.get(None) is None


async def test_worker_dependencies_come_first_share_the_cache_and_unwind_lifo() -> None:
    """Worker-level deps resolve first, share Depends caching, are not passed, and
    everything is torn down last-in-first-out."""
    journal: list[str] = []
    calls: list[str] = []

    @asynccontextmanager
    async def connection() -> AsyncIterator[str]:
        calls.append("connect")
        journal.append("enter connection")
        yield "conn"
        journal.append("exit connection")

    worker = FakeWorker(
        {"audit": Recorder("audit", journal), "db": Depends(connection)}
    )

    async def task(
        first: str = Recorder("first", journal),
        db: str = Depends(connection),
        second: str = Recorder("second", journal),
    ) -> None:
        """A task sharing the worker's connection."""

    async with resolved_dependencies(worker, make_execution(worker, task)) as resolved:  # type: ignore[arg-type]
        assert resolved == {"first": "first", "db": "conn", "second": "second"}
        assert resolved.extras == ["audit", "conn"]
        journal.append("task")

    assert calls == ["connect"]
    assert journal == [
        "enter audit",
        "enter connection",
        "enter first",
        "enter second",
        "task",
        "exit second",
        "exit first",
        "exit connection",
        "exit audit",
    ]


async def test_caller_arguments_override_dependencies() -> None:
    """A keyword argument named like a dependency parameter is used as is, not entered."""
    journal: list[str] = []
    worker = FakeWorker()
    override = Retry(attempts=42)

    async def task(
        a: int, retry: Retry = Retry(attempts=2), rec: str = Recorder("rec", journal)
    ) -> None:
        """A task whose retry policy the caller overrides."""

    execution = make_execution(worker, task, 1, retry=override, rec="given")
    async with resolved_dependencies(worker, execution) as resolved:  # type: ignore[arg-type]
        assert resolved["retry"] is override
        assert resolved["rec"] == "given"
        assert get_single_dependency_of_type(resolved, FailureHandler) is override
    assert journal == []


async def test_positional_arguments_are_not_passed_twice() -> None:
    """A dependency parameter filled positionally is left out of the keyword values."""
    worker = FakeWorker()

    async def task(a: int, key: str = TaskKey()) -> None:
        """A task given its key positionally."""

    execution = make_execution(worker, task, 1, "explicit")
    async with resolved_dependencies(worker, execution) as resolved:  # type: ignore[arg-type]
        assert resolved == {}


async def test_annotated_dependencies_are_bound_to_the_argument_value() -> None:
    """Annotated dependencies receive the parameter's name and the caller's value."""
    worker = FakeWorker()

    async def task(
        customer: Annotated[str, Wrapper()],
        region: Annotated[str, Wrapper()] = "eu",
    ) -> None:
        """A task with side-effect annotations."""

    execution = make_execution(worker, task, "c-1")
    async with resolved_dependencies(worker, execution) as resolved:  # type: ignore[arg-type]
        assert dict(resolved) == {}
        bound = [wrapper.bound for wrapper in resolved.extras]
        assert bound == [("customer", "c-1"), ("region", "eu")]


async def test_handlers_are_found_at_worker_level_and_in_annotations() -> None:
    """Handler roles entered at worker level or from Annotated metadata are findable."""
    worker = FakeWorker({"timeout": Timeout(timedelta(seconds=3))})

    async def task(x: Annotated[int, Perpetual(every=timedelta(seconds=1))]) -> None:
        """A perpetual task declared through an annotation."""

    async with resolved_dependencies(
        worker, make_execution(worker, task, 5)
    ) as resolved:  # type: ignore[arg-type]
        timeout = get_single_dependency_of_type(resolved, Runtime)
        perpetual = get_single_dependency_of_type(resolved, CompletionHandler)
        assert isinstance(timeout, Timeout)
        assert worker.dependencies["timeout"] is not timeout  # a per-run copy
        assert isinstance(perpetual, Perpetual)
        assert perpetual.args == (5,)
        assert get_single_dependency_of_type(resolved, FailureHandler) is None


async def test_failures_are_recorded_and_resolution_continues() -> None:
    """A failing dependency becomes a FailedDependency; later ones still resolve."""
    journal: list[str] = []
    worker = FakeWorker({"broken": Exploding()})

    async def task(
        bad: None = Exploding(),
        good: str = Recorder("good", journal),
        wrapped: Annotated[int, Exploding()] = 1,
    ) -> None:
        """A task with broken dependencies."""

    async with resolved_dependencies(worker, make_execution(worker, task)) as resolved:  # type: ignore[arg-type]
        assert resolved["good"] == "good"
        failures = resolved.failures
        assert [failure.parameter for failure in failures] == [
            "broken",
            "bad",
            "wrapped",
        ]
        assert all(isinstance(f.error, RuntimeError) for f in failures)
    assert journal == ["enter good", "exit good"]


async def test_task_argument_inside_depends_infers_the_name() -> None:
    """TaskArgument() in a dependency function reads the task argument of that name."""
    worker = FakeWorker()

    def customer_record(customer_id: str = TaskArgument()) -> str:
        return f"record-{customer_id}"

    def region_of(
        where: str = TaskArgument("region"),
        missing: Any = TaskArgument("nope", optional=True),
    ) -> str:
        return f"{where}/{missing}"

    async def task(
        customer_id: str,
        region: str = "eu",
        record: str = Depends(customer_record),
        place: str = Depends(region_of),
    ) -> None:
        """A task whose dependencies read its arguments."""

    execution = make_execution(worker, task, "c-7", region="us")
    async with resolved_dependencies(worker, execution) as resolved:  # type: ignore[arg-type]
        assert resolved == {"record": "record-c-7", "place": "us/None"}


async def test_task_argument_does_not_apply_defaults() -> None:
    """An argument the caller did not pass is missing, even if it has a default."""
    worker = FakeWorker()

    def region_of(region: str = TaskArgument()) -> str:
        return region  # pragma: no cover

    async def task(region: str = "eu", place: str = Depends(region_of)) -> None:
        """A task relying on a default the TaskArgument cannot see."""

    async with resolved_dependencies(worker, make_execution(worker, task)) as resolved:  # type: ignore[arg-type]
        [failure] = resolved.failures
        assert isinstance(failure, FailedDependency)
        assert failure.parameter == "place"
        assert isinstance(failure.error, KeyError)


async def test_bare_task_argument_on_a_task_fails() -> None:
    """A bare TaskArgument() directly on a task fails: it has no name to use."""
    worker = FakeWorker()

    async def task(a: int, b: Any = TaskArgument()) -> None:
        """A task misusing TaskArgument."""

    async with resolved_dependencies(
        worker, make_execution(worker, task, 1)
    ) as resolved:  # type: ignore[arg-type]
        [failure] = resolved.failures
        assert failure.parameter == "b"
        assert isinstance(failure.error, ValueError)
        assert str(failure.error) == "No parameter name specified"


async def test_named_task_argument_on_a_task() -> None:
    """A named TaskArgument on a task copies another argument of the task."""
    worker = FakeWorker()

    async def task(a: int, copy: int = TaskArgument("a")) -> None:
        """A task copying its own argument."""

    async with resolved_dependencies(
        worker, make_execution(worker, task, 9)
    ) as resolved:  # type: ignore[arg-type]
        assert resolved == {"copy": 9}


async def test_sync_context_manager_factories_are_entered() -> None:
    """A Depends factory returning a sync context manager is entered and exited."""
    journal: list[str] = []
    worker = FakeWorker()

    @contextmanager
    def resource() -> Iterator[str]:
        journal.append("open")
        yield "res"
        journal.append("close")

    async def task(r: str = Depends(resource)) -> None:
        """A task using a sync resource."""

    async with resolved_dependencies(worker, make_execution(worker, task)) as resolved:  # type: ignore[arg-type]
        assert resolved == {"r": "res"}
        assert journal == ["open"]
    assert journal == ["open", "close"]
