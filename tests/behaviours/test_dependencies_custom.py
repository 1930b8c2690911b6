"""User-written dependencies through a real Docket and Worker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import Annotated, Any

import pytest
from typing_extensions import Self

from docket import Docket, Execution, ExecutionState, Timeout, Worker
from docket.dependencies import (
    AdmissionBlocked,
    CompletionHandler,
    Dependency,
    FailureHandler,
    Runtime,
    TaskOutcome,
    current_docket,
    current_execution,
    current_worker,
)

LOG: list[Any] = []


@pytest.fixture(autouse=True)
def fresh_log() -> None:
    LOG.clear()


async def drain(worker: Worker) -> None:
    await asyncio.wait_for(worker.run_until_finished(), 10)


class Shouting(Runtime):
    """A runtime that performs the call itself and changes the result."""

    async def __aenter__(self) -> Self:
        return self

    async def run(
        self,
        execution: Execution,
        function: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        LOG.append(("runtime", execution.key))
        return str(await function(*args, **kwargs)).upper()


class TryTwice(FailureHandler):
    """Reschedules the first failure itself; declines the second."""

    async def __aenter__(self) -> Self:
        return self

    async def handle_failure(self, execution: Execution, outcome: TaskOutcome) -> bool:
        LOG.append(("failure", execution.attempt, type(outcome.exception).__name__))
        if execution.attempt >= 2:
            return False
        execution.attempt += 1
        execution.when = datetime.now(timezone.utc)
        await execution.schedule(replace=True, reschedule_message=execution.message_id)
        return True


class ClaimsButDoesNothing(FailureHandler):
    """Says it handled the failure but never reschedules: the safety net applies."""

    async def __aenter__(self) -> Self:
        return self

    async def handle_failure(self, execution: Execution, outcome: TaskOutcome) -> bool:
        return True


class Audit(CompletionHandler):
    """Takes over the follow-up of every run, successful or not."""

    async def __aenter__(self) -> Self:
        return self

    async def on_complete(self, execution: Execution, outcome: TaskOutcome) -> bool:
        failed = outcome.exception is not None
        LOG.append(
            ("complete", outcome.result, failed, outcome.duration >= timedelta(0))
        )
        return True


class Span(Dependency[None]):
    """An Annotated wrapper that sees the parameter's name and value."""

    def __init__(self) -> None:
        self.name: str | None = None
        self.value: Any = None

    def bind_to_parameter(self, name: str, value: Any) -> Span:
        bound = Span()
        bound.name, bound.value = name, value
        return bound

    async def __aenter__(self) -> None:
        execution = current_execution.get()
        LOG.append(("enter", self.name, self.value, execution.key))

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        LOG.append(("exit", self.name, exc_type is None))


async def test_a_custom_runtime_performs_the_call(docket: Docket, worker: Worker):
    """A Runtime subclass wraps the body; its return value is the task's result."""

    async def greet(name: str, runtime: Shouting = Shouting()) -> str:
        return f"hello {name}"

    execution = await docket.add(greet, key="greet")("ann")
    await drain(worker)
    assert await execution.get_result() == "HELLO ANN"
    assert LOG == [("runtime", "greet")]


def test_a_custom_runtime_conflicts_with_timeout(docket: Docket) -> None:
    """Runtime is single: a custom one plus Timeout is refused at registration."""

    async def both(
        runtime: Shouting = Shouting(), timeout: Timeout = Timeout(timedelta(seconds=1))
    ) -> None: ...

    with pytest.raises(ValueError, match="Only one Runtime dependency is allowed"):
        docket.register(both)


async def test_a_custom_failure_handler_reschedules(docket: Docket, worker: Worker):
    """A FailureHandler that reschedules gets a second attempt, which succeeds."""

    async def flaky(handler: TryTwice = TryTwice()) -> str:
        execution = current_execution.get()
        if execution.attempt == 1:
            raise RuntimeError("first try fails")
        return f"attempt {execution.attempt}"

    execution = await docket.add(flaky)()
    await drain(worker)
    assert await execution.get_result() == "attempt 2"
    assert LOG == [("failure", 1, "RuntimeError")]


async def test_a_handler_that_does_nothing_hits_the_safety_net(
    docket: Docket, worker: Worker
):
    """Claiming to handle a failure without rescheduling ends FAILED, no error text."""

    async def broken(handler: ClaimsButDoesNothing = ClaimsButDoesNothing()) -> None:
        raise RuntimeError("lost")

    execution = await docket.add(broken)()
    await drain(worker)
    await execution.sync()
    assert execution.state is ExecutionState.FAILED
    assert execution.error is None
    with pytest.raises(Exception, match="Task execution failed"):
        await execution.get_result()


async def test_a_custom_completion_handler_takes_over(docket: Docket, worker: Worker):
    """on_complete sees successes and failures; handled successes store no result."""

    async def audited(fail: bool, audit: Audit = Audit()) -> str:
        if fail:
            raise ValueError("nope")
        return "ok"

    good = await docket.add(audited)(False)
    bad = await docket.add(audited)(True)
    await drain(worker)
    assert LOG == [("complete", "ok", False, True), ("complete", None, True, True)]
    assert await good.get_result() is None  # the handler took over: nothing stored
    with pytest.raises(ValueError, match="nope"):
        await bad.get_result()


async def test_an_annotated_dependency_wraps_the_call(docket: Docket, worker: Worker):
    """bind_to_parameter receives the parameter; enter and exit surround the body."""

    async def traced(order_id: Annotated[int, Span()]) -> None:
        LOG.append(("body", order_id))

    await docket.add(traced, key="t-1")(42)
    await drain(worker)
    assert LOG == [
        ("enter", "order_id", 42, "t-1"),
        ("body", 42),
        ("exit", "order_id", True),
    ]


class Gate(Dependency[None]):
    """Blocks admission: reschedules the first attempt, or drops when told to."""

    def __init__(self, drop: bool = False) -> None:
        self.drop = drop

    async def __aenter__(self) -> None:
        execution = current_execution.get()
        assert current_worker.get().docket is current_docket.get()
        LOG.append(("gate", execution.key))
        if self.drop:
            raise AdmissionBlocked(execution, "closed gate", reschedule=False)
        if len([e for e in LOG if e[0] == "gate"]) == 1:
            raise AdmissionBlocked(
                execution, "busy gate", retry_delay=timedelta(milliseconds=20)
            )


async def test_raising_admission_blocked_reschedules_or_drops(
    docket: Docket, worker: Worker
):
    """A custom dependency may reschedule (it runs later) or drop (CANCELLED)."""

    async def gated(gate: Gate = Gate()) -> str:
        return "through"

    async def closed(gate: Gate = Gate(drop=True)) -> str:
        return "never"

    later = await docket.add(gated, key="later")()
    await drain(worker)
    assert await later.get_result() == "through"
    assert LOG == [("gate", "later"), ("gate", "later")]

    dropped = await docket.add(closed)()
    await drain(worker)
    await dropped.sync()
    assert dropped.state is ExecutionState.CANCELLED
