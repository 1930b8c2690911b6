"""docket.testing: assertion helpers over snapshot().future, with exact messages."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from docket import Docket, testing
from docket._redis import clear_memory_servers


async def send(to: str, subject: str = "") -> None:
    """A task to look for."""


@dataclass
class FakeExecution:
    function_name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    key: str = "k"


@dataclass
class FakeSnapshot:
    future: list[FakeExecution]


class FakeDocket:
    """Answers snapshot() with the executions it was given."""

    def __init__(self, *future: FakeExecution) -> None:
        self.future = list(future)

    async def snapshot(self) -> FakeSnapshot:
        return FakeSnapshot(self.future)


ONE = FakeExecution("send", ("a@b",), {"subject": "hi", "cc": None}, "k1")
TWO = FakeExecution("other", (), {}, "k2")


async def test_assert_task_scheduled_matches() -> None:
    """Args must be equal, kwargs a subset, key equal; callables match by name."""
    docket: Any = FakeDocket(ONE, TWO)
    await testing.assert_task_scheduled(docket, send)
    await testing.assert_task_scheduled(docket, "send", args=("a@b",))
    await testing.assert_task_scheduled(docket, send, kwargs={"subject": "hi"})
    await testing.assert_task_scheduled(docket, send, kwargs={"cc": None}, key="k1")


async def test_assert_task_scheduled_on_an_empty_docket() -> None:
    """An empty docket gets its own short message."""
    with pytest.raises(AssertionError) as raised:
        await testing.assert_task_scheduled(FakeDocket(), send)  # type: ignore[arg-type]
    assert str(raised.value) == "Task send not found: no tasks scheduled on docket"


async def test_assert_task_scheduled_lists_what_was_found() -> None:
    """The failure names the criteria given and lists every waiting task."""
    docket: Any = FakeDocket(ONE, TWO)
    with pytest.raises(AssertionError) as raised:
        await testing.assert_task_scheduled(
            docket, send, args=("x",), kwargs={"missing": 1}, key="k1"
        )
    assert str(raised.value) == (
        "Task send not found with function=send, key='k1', args=('x',), "
        "kwargs={'missing': 1}\n\n"
        "Scheduled tasks:\n"
        "  - send(args=('a@b',), kwargs={'subject': 'hi', 'cc': None}, key='k1')\n"
        "  - other(args=(), kwargs={}, key='k2')"
    )
    with pytest.raises(
        AssertionError, match="^Task absent not found with function=absent\n\nSched"
    ):
        await testing.assert_task_scheduled(docket, "absent")


async def test_assert_task_not_scheduled() -> None:
    """It passes when nothing matches and reports the first match otherwise."""
    docket: Any = FakeDocket(TWO, ONE)
    await testing.assert_task_not_scheduled(docket, send, key="other-key")
    await testing.assert_task_not_scheduled(docket, "nothing")
    with pytest.raises(AssertionError) as raised:
        await testing.assert_task_not_scheduled(docket, send, args=("a@b",))
    assert str(raised.value) == (
        "Task send found but should not be scheduled\n"
        "Found: send(args=('a@b',), kwargs={'subject': 'hi', 'cc': None}, key='k1')"
    )


async def test_assert_task_count() -> None:
    """Counts every waiting task, or only those of one function."""
    docket: Any = FakeDocket(ONE, TWO, ONE)
    await testing.assert_task_count(docket, count=3)
    await testing.assert_task_count(docket, send, count=2)
    await testing.assert_task_count(docket, "absent", count=0)
    with pytest.raises(AssertionError, match="^Expected 1 all tasks, found 3$"):
        await testing.assert_task_count(docket, count=1)
    with pytest.raises(AssertionError, match="^Expected 5 tasks for send, found 2$"):
        await testing.assert_task_count(docket, send, count=5)


async def test_assert_no_tasks() -> None:
    """Passes on an empty docket; otherwise lists what is scheduled."""
    await testing.assert_no_tasks(FakeDocket())  # type: ignore[arg-type]
    with pytest.raises(AssertionError) as raised:
        await testing.assert_no_tasks(FakeDocket(TWO))  # type: ignore[arg-type]
    assert str(raised.value) == (
        "Expected no tasks, found 1 task(s) scheduled:\n"
        "  - other(args=(), kwargs={}, key='k2')"
    )


@pytest.fixture
async def memory_docket() -> AsyncIterator[Docket]:
    url = f"memory://helpers-{uuid.uuid4().hex[:8]}"
    async with Docket(name=f"helpers-{uuid.uuid4().hex[:8]}", url=url) as docket:
        yield docket
    clear_memory_servers()


async def test_helpers_on_a_real_docket(memory_docket: Docket) -> None:
    """Immediate and future tasks both count as scheduled on a real docket."""
    await testing.assert_no_tasks(memory_docket)
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    await memory_docket.add(send, key="now")("a@b", subject="hello")
    await memory_docket.add(send, when=later, key="later")("c@d")
    await testing.assert_task_scheduled(memory_docket, send, key="now")
    await testing.assert_task_scheduled(memory_docket, send, args=("c@d",))
    await testing.assert_task_count(memory_docket, send, count=2)
    await memory_docket.cancel("later")
    await testing.assert_task_not_scheduled(memory_docket, send, key="later")
    await testing.assert_task_count(memory_docket, count=1)
