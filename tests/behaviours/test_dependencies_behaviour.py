"""Dependency injection through a real worker, on memory:// and a real redis-server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import pytest

from docket import (
    Cron,
    CurrentDocket,
    CurrentExecution,
    CurrentWorker,
    Depends,
    Docket,
    Execution,
    ExponentialRetry,
    Logged,
    Perpetual,
    Retry,
    Shared,
    TaskArgument,
    TaskKey,
    TaskLogger,
    Timeout,
    Worker,
)
from docket.dependencies import CompletionHandler, FailureHandler, Runtime, TaskOutcome


async def test_contextual_dependencies(docket: Docket, worker: Worker):
    """CurrentDocket, CurrentWorker, CurrentExecution and TaskKey inject the live objects."""
    seen: dict[str, Any] = {}

    async def inspect_me(
        value: int,
        d: Docket = CurrentDocket(),
        w: Worker = CurrentWorker(),
        e: Execution = CurrentExecution(),
        key: str = TaskKey(),
    ) -> None:
        seen.update(docket=d, worker=w, execution=e, key=key, value=value)

    await docket.add(inspect_me, key="ctx")(5)
    await worker.run_until_finished()
    assert seen["docket"] is docket and seen["worker"] is worker
    assert (
        seen["key"] == "ctx" and seen["execution"].key == "ctx" and seen["value"] == 5
    )


async def test_depends_sync_async_and_context_managers(docket: Docket, worker: Worker):
    """Depends accepts plain, async and (async) context-manager factories, cached per run."""
    events: list[str] = []
    calls = {"config": 0}

    def config() -> dict[str, str]:
        calls["config"] += 1
        return {"dsn": "db://"}

    async def token() -> str:
        return "t0k3n"

    @contextmanager
    def connection(cfg: dict[str, str] = Depends(config)) -> Iterator[str]:
        events.append("open")
        yield f"conn({cfg['dsn']})"
        events.append("close")

    @asynccontextmanager
    async def session(conn: str = Depends(connection)) -> AsyncIterator[str]:
        events.append("begin")
        yield f"session({conn})"
        events.append("end")

    async def job(
        s: str = Depends(session),
        t: str = Depends(token),
        cfg: dict[str, str] = Depends(config),
    ) -> str:
        events.append("body")
        return f"{s}/{t}/{cfg['dsn']}"

    execution = await docket.add(job)()
    await worker.run_until_finished()
    assert await execution.get_result() == "session(conn(db://))/t0k3n/db://"
    assert events == ["open", "begin", "body", "end", "close"]
    assert calls["config"] == 1


async def test_dependency_failure_names_the_parameter(docket: Docket, worker: Worker):
    """A failing dependency fails the task before its body runs, naming the parameter."""
    ran: list[str] = []

    def broken() -> str:
        raise RuntimeError("no database")

    async def job(db: str = Depends(broken)) -> None:
        ran.append("body")

    execution = await docket.add(job)()
    await worker.run_until_finished()
    with pytest.raises(Exception, match="db"):
        await execution.get_result()
    assert ran == []


async def test_shared_is_created_once_per_worker(docket: Docket):
    """Shared(factory) builds one instance for the worker's life and cleans it up at exit."""
    lifecycle: list[str] = []

    @asynccontextmanager
    async def pool() -> AsyncIterator[object]:
        lifecycle.append("create")
        yield object()
        lifecycle.append("close")

    instances: list[object] = []

    async def job(p: object = Shared(pool)) -> None:
        instances.append(p)

    for _ in range(3):
        await docket.add(job)()
    async with Worker(
        docket, minimum_check_interval=timedelta(milliseconds=5)
    ) as worker:
        await worker.run_until_finished()
        assert lifecycle == ["create"]
    assert lifecycle == ["create", "close"]
    assert len(instances) == 3 and len({id(i) for i in instances}) == 1


async def test_task_argument_in_a_dependency(docket: Docket, worker: Worker):
    """TaskArgument() reads the task's own argument; optional=True gives None when absent."""

    def lookup(
        customer_id: int = TaskArgument(),
        extra: Any = TaskArgument("missing", optional=True),
    ) -> str:
        return f"customer-{customer_id}:{extra}"

    async def job(customer_id: int, record: str = Depends(lookup)) -> str:
        return record

    execution = await docket.add(job)(42)
    await worker.run_until_finished()
    assert await execution.get_result() == "customer-42:None"


async def test_task_logger_carries_context(
    docket: Docket, worker: Worker, caplog: pytest.LogCaptureFixture
):
    """TaskLogger logs under docket.task.<name> with the task's key in its extra fields."""

    async def chatty(
        logger: logging.LoggerAdapter[logging.Logger] = TaskLogger(),
    ) -> None:
        logger.info("hello from the task")

    caplog.set_level(logging.INFO)
    await docket.add(chatty, key="chatty-1")()
    await worker.run_until_finished()
    record = next(r for r in caplog.records if r.getMessage() == "hello from the task")
    assert record.name == "docket.task.chatty"
    assert getattr(record, "docket.key") == "chatty-1"


async def test_worker_level_dependencies_wrap_every_task(docket: Docket):
    """Worker dependencies run around every task and a worker-level Timeout applies."""
    order: list[str] = []

    @asynccontextmanager
    async def transaction(key: str = TaskKey()) -> AsyncIterator[None]:
        order.append(f"begin {key}")
        yield
        order.append(f"commit {key}")

    async def job() -> None:
        order.append("body")

    await docket.add(job, key="w1")()
    async with Worker(
        docket,
        minimum_check_interval=timedelta(milliseconds=5),
        dependencies={
            "tx": Depends(transaction),
            "limit": Timeout(timedelta(seconds=5)),
        },
    ) as worker:
        await worker.run_until_finished()
    assert order == ["begin w1", "body", "commit w1"]


def test_worker_dependency_validation():
    """Reserved names and non-dependencies are rejected by the Worker constructor."""
    docket = Docket(name="validation", url="memory://validation")
    with pytest.raises(ValueError, match="reserved"):
        Worker(docket, dependencies={"__secret": Timeout(timedelta(seconds=1))})
    with pytest.raises(TypeError):
        Worker(docket, dependencies={"x": "not a dependency"})  # type: ignore[dict-item]


async def test_exponential_retry_grows_the_delay(docket: Docket, worker: Worker):
    """ExponentialRetry waits longer after each failure (20 ms, then 40 ms).

    A retry never runs before its delay, so the gaps are bounded below whatever
    the machine's load; an upper bound would only measure the scheduler."""
    whens: list[datetime] = []

    async def flaky(
        e: Execution = CurrentExecution(),
        retry: ExponentialRetry = ExponentialRetry(
            attempts=3,
            minimum_delay=timedelta(milliseconds=20),
            maximum_delay=timedelta(milliseconds=200),
        ),
    ) -> None:
        whens.append(datetime.now(timezone.utc))
        if retry.attempt < 3:
            raise RuntimeError("again")

    await docket.add(flaky)()
    await worker.run_until_finished()
    assert len(whens) == 3
    assert whens[1] - whens[0] >= timedelta(milliseconds=20)
    assert whens[2] - whens[1] >= timedelta(milliseconds=40)


async def test_retry_after_forces_a_delay(docket: Docket, worker: Worker):
    """retry.after() asks for another attempt at a chosen delay."""
    attempts: list[int] = []

    async def polling(retry: Retry = Retry(attempts=3)) -> str:
        attempts.append(retry.attempt)
        if retry.attempt == 1:
            retry.after(timedelta(milliseconds=30))
        return "ready"

    execution = await docket.add(polling)()
    await worker.run_until_finished()
    assert attempts == [1, 2]
    assert await execution.get_result() == "ready"


async def test_perpetual_survives_failures_and_can_cancel_itself(
    docket: Docket, worker: Worker
):
    """A perpetual chain continues after a failing run and stops when it cancels itself."""
    runs: list[int] = []

    async def monitor(
        perpetual: Perpetual = Perpetual(every=timedelta(milliseconds=5)),
    ) -> None:
        runs.append(len(runs))
        if len(runs) == 2:
            raise RuntimeError("a bad run")
        if len(runs) == 4:
            perpetual.cancel()

    await docket.add(monitor, key="monitor")()
    await worker.run_until_finished()
    assert runs == [0, 1, 2, 3]


async def test_perpetual_changes_its_arguments(docket: Docket, worker: Worker):
    """perpetuate() sets the next run's arguments."""
    seen: list[int] = []

    async def counter(n: int, perpetual: Perpetual = Perpetual()) -> None:
        seen.append(n)
        perpetual.perpetuate(n + 1)

    await docket.add(counter, key="counter")(1)
    await worker.run_at_most({"counter": 3})
    assert seen == [1, 2, 3]


def test_cron_keywords_and_time_zones():
    """Cron expands @daily and evaluates expressions in the given time zone."""
    daily = Cron("@daily", automatic=False)
    assert daily.expression == "0 0 * * *"
    la = Cron("0 9 * * *", tz=ZoneInfo("America/Los_Angeles"), automatic=False)
    next_time = la.next_time()
    local = next_time.astimezone(ZoneInfo("America/Los_Angeles"))
    assert (local.hour, local.minute) == (9, 0)


async def test_logged_arguments_appear_in_call_repr(docket: Docket):
    """Logged marks which arguments are shown in log lines; others are '...'."""

    async def charge(
        customer: Annotated[str, Logged],
        card: str,
        items: Annotated[list[int], Logged(length_only=True)],
    ) -> None:
        pass

    execution = await docket.add(charge, key="k")("ada", "4111", [1, 2, 3])
    assert execution.call_repr() == "charge('ada', ..., [len 3]){k}"


async def test_custom_runtime_and_handlers(docket: Docket, worker: Worker):
    """User-written Runtime, FailureHandler and CompletionHandler subclasses take over."""
    notes: list[str] = []

    class Twice(Runtime):
        async def __aenter__(self) -> Twice:
            return self

        async def run(
            self,
            execution: Execution,
            function: Any,
            args: tuple[Any, ...],
            kwargs: dict[str, Any],
        ) -> Any:
            await function(*args, **kwargs)
            return await function(*args, **kwargs)

    class Noted(CompletionHandler):
        async def __aenter__(self) -> Noted:
            return self

        async def on_complete(self, execution: Execution, outcome: TaskOutcome) -> bool:
            notes.append(f"complete {outcome.result}")
            return False

    class Swallow(FailureHandler):
        async def __aenter__(self) -> Swallow:
            return self

        async def handle_failure(
            self, execution: Execution, outcome: TaskOutcome
        ) -> bool:
            notes.append(f"failure {outcome.exception}")
            return False

    counter = {"n": 0}

    async def doubled(runtime: Twice = Twice(), done: Noted = Noted()) -> int:
        counter["n"] += 1
        return counter["n"]

    async def failing(handler: Swallow = Swallow()) -> None:
        raise ValueError("bad")

    first = await docket.add(doubled)()
    second = await docket.add(failing)()
    await worker.run_until_finished()
    assert await first.get_result() == 2
    with pytest.raises(ValueError):
        await second.get_result()
    assert notes == ["complete 2", "failure bad"]


async def test_single_rule_rejects_two_retries(docket: Docket):
    """Two Retry dependencies on one task are refused when the task is added."""

    async def greedy(a: Retry = Retry(), b: Retry = Retry()) -> None:
        pass

    with pytest.raises(ValueError, match="Only one Retry"):
        docket.add(greedy)
