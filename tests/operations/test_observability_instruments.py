"""Metric instruments as user code and pydocket's tests observe them: through the
module attributes of ``docket.instrumentation``, looked up at each call, with
pydocket's attribute sets, whether or not a meter provider is installed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from docket import Docket, Retry, Worker
from docket import instrumentation as instruments
from tests._support.timings import FAST


class Recording:
    """Wraps a real instrument: records each call, then passes it on unchanged."""

    def __init__(self, instrument: Any) -> None:
        self.instrument = instrument
        self.calls: list[tuple[float, dict[str, Any]]] = []

    def _record(self, method: str) -> Callable[..., None]:
        def call(amount: float, attributes: Any = None, *rest: Any) -> None:
            self.calls.append((amount, dict(attributes or {})))
            getattr(self.instrument, method)(amount, attributes, *rest)

        return call

    def __getattr__(self, name: str) -> Any:
        if name in ("add", "record", "set"):
            return self._record(name)
        return getattr(self.instrument, name)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Recording]:
    """Replace ``docket.instrumentation.<NAME>`` with a recording wrapper."""

    def replace(name: str) -> Recording:
        recording = Recording(getattr(instruments, name))
        monkeypatch.setattr(instruments, name, recording)
        return recording

    return replace


async def task_one() -> None: ...


async def fails() -> None:
    raise ValueError("nope")


async def test_producer_counters_use_the_module_attributes(
    docket: Docket, recorded: Callable[[str], Recording]
):
    """add, replace and cancel record through replaced instruments, with
    ``docket.name`` and ``docket.task`` (cancel: ``docket.name`` only)."""
    added, replaced = recorded("TASKS_ADDED"), recorded("TASKS_REPLACED")
    scheduled, cancelled = recorded("TASKS_SCHEDULED"), recorded("TASKS_CANCELLED")
    labels = {"docket.name": docket.name, "docket.task": "task_one"}
    await docket.add(task_one)()
    assert added.calls == [(1, labels)] and scheduled.calls == [(1, labels)]
    later = datetime.now(timezone.utc) + timedelta(minutes=5)
    await docket.replace(task_one, later, "k")()
    assert replaced.calls == [(1, labels)] and len(scheduled.calls) == 2
    cancelled.calls.clear()
    await docket.cancel("k")
    assert cancelled.calls == [(1, {"docket.name": docket.name})]


async def test_worker_counters_use_the_module_attributes(
    docket: Docket, recorded: Callable[[str], Recording]
):
    """A run records started, running (+1/-1), completed, succeeded or failed,
    duration and punctuality, each with docket.name, docket.worker, docket.task."""
    names = [
        "TASKS_STARTED",
        "TASKS_RUNNING",
        "TASKS_COMPLETED",
        "TASKS_SUCCEEDED",
        "TASKS_FAILED",
        "TASKS_REDELIVERED",
        "TASK_DURATION",
        "TASK_PUNCTUALITY",
    ]
    seen = {name: recorded(name) for name in names}
    await docket.add(task_one)()
    await docket.add(fails)()
    async with Worker(docket, **FAST) as worker:
        await worker.run_until_finished()

    def labels(task: str) -> dict[str, str]:
        return {
            "docket.name": docket.name,
            "docket.worker": worker.name,
            "docket.task": task,
        }

    def count(name: str) -> list[tuple[float, dict[str, Any]]]:
        return sorted(
            ((a, attributes) for a, attributes in seen[name].calls),
            key=lambda call: (call[1]["docket.task"], call[0]),
        )

    both = [(1, labels("fails")), (1, labels("task_one"))]
    assert count("TASKS_STARTED") == both
    assert count("TASKS_COMPLETED") == both
    assert count("TASKS_SUCCEEDED") == [(1, labels("task_one"))]
    assert count("TASKS_FAILED") == [(1, labels("fails"))]
    assert count("TASKS_REDELIVERED") == []
    assert count("TASKS_RUNNING") == [
        (-1, labels("fails")),
        (1, labels("fails")),
        (-1, labels("task_one")),
        (1, labels("task_one")),
    ]
    for name in ("TASK_DURATION", "TASK_PUNCTUALITY"):
        assert [attributes for _, attributes in count(name)] == [
            labels("fails"),
            labels("task_one"),
        ]
        assert all(value >= 0 for value, _ in count(name))


async def test_a_replaced_task_is_counted_once(
    docket: Docket, recorded: Callable[[str], Recording]
):
    """Adding a key then replacing it before it runs: one start, one completion,
    no supersession."""
    started, completed = recorded("TASKS_STARTED"), recorded("TASKS_COMPLETED")
    superseded = recorded("TASKS_SUPERSEDED")
    await docket.add(task_one, key="once")()
    await docket.replace(task_one, datetime.now(timezone.utc), "once")()
    async with Worker(docket, **FAST) as worker:
        await worker.run_until_finished()
    assert len(started.calls) == 1 and len(completed.calls) == 1
    assert superseded.calls == []


async def test_retries_count_with_bounded_attributes(
    docket: Docket, recorded: Callable[[str], Recording]
):
    """TASKS_RETRIED carries docket.name, docket.worker and docket.task only."""
    retried = recorded("TASKS_RETRIED")

    async def flaky(retry: Retry = Retry(attempts=2)) -> None:
        raise RuntimeError("again")

    await docket.add(flaky)()
    async with Worker(docket, **FAST) as worker:
        await worker.run_until_finished()
    assert retried.calls == [
        (
            1,
            {
                "docket.name": docket.name,
                "docket.worker": worker.name,
                "docket.task": "flaky",
            },
        )
    ]


async def test_patching_an_instruments_add_method_sees_the_calls(
    docket: Docket, monkeypatch: pytest.MonkeyPatch
):
    """pydocket's own tests patch ``docket.instrumentation.TASKS_STARTED.add``; the
    worker's calls reach the patched method even with no meter provider."""
    calls: list[tuple[float, dict[str, Any]]] = []
    original = instruments.TASKS_STARTED.add

    def add(amount: float, attributes: Any = None, *rest: Any) -> None:
        calls.append((amount, dict(attributes or {})))
        original(amount, attributes, *rest)

    monkeypatch.setattr("docket.instrumentation.TASKS_STARTED.add", add)
    await docket.add(task_one)()
    async with Worker(docket, **FAST) as worker:
        await worker.run_until_finished()
    assert calls == [
        (
            1,
            {
                "docket.name": docket.name,
                "docket.worker": worker.name,
                "docket.task": "task_one",
            },
        )
    ]
