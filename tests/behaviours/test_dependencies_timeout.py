"""Timeout: deadline bookkeeping and running a plain coroutine under a deadline."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from docket.dependencies import Runtime, Timeout
from docket.execution import Execution


class FakeDocket:
    name = "test-docket"
    tasks: dict[str, Any] = {}

    def labels(self) -> dict[str, str]:
        return {"docket.name": self.name}


async def placeholder() -> None:
    """Stands in for the task function of the execution."""


def make_execution() -> Execution:
    return Execution(
        FakeDocket(),  # type: ignore[arg-type]
        placeholder,
        (),
        {},
        key="slow-key",
        when=datetime.now(timezone.utc),
        attempt=1,
    )


def test_timeout_is_a_single_runtime() -> None:
    """Timeout plays the Runtime role, of which a task may have only one."""
    timeout = Timeout(timedelta(seconds=1))
    assert isinstance(timeout, Runtime)
    assert Timeout.single is True
    assert timeout.base == timedelta(seconds=1)


async def test_entering_returns_a_fresh_started_copy() -> None:
    """Entering yields a new Timeout whose deadline starts now."""
    declared = Timeout(timedelta(seconds=10))
    entered = await declared.__aenter__()
    assert entered is not declared
    assert entered.base == declared.base
    assert not entered.expired()
    assert timedelta(seconds=9) < entered.remaining() <= timedelta(seconds=10)


async def test_remaining_expired_and_extend() -> None:
    """remaining() counts down, expired() flips at the deadline, extend() pushes it."""
    timeout = Timeout(timedelta(milliseconds=50))
    timeout.start()
    await asyncio.sleep(0.08)
    assert timeout.expired()
    assert timeout.remaining() == timedelta(0)

    timeout.extend(timedelta(seconds=5))
    assert not timeout.expired()
    assert timedelta(seconds=4) < timeout.remaining() <= timedelta(seconds=5)

    timeout.start()
    timeout.extend()  # by base
    assert (
        timedelta(milliseconds=60) < timeout.remaining() <= timedelta(milliseconds=100)
    )


async def test_run_returns_the_result_in_time() -> None:
    """A body that finishes before the deadline returns its result."""

    async def body(a: int, b: int = 0) -> int:
        await asyncio.sleep(0.01)
        return a + b

    timeout = Timeout(timedelta(seconds=5))
    assert await timeout.run(make_execution(), body, (1,), {"b": 2}) == 3


async def test_run_raises_timeout_error_and_cancels_the_body() -> None:
    """Past the deadline the body is cancelled and TimeoutError names the key."""
    cancelled = asyncio.Event()

    async def body() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    timeout = Timeout(timedelta(milliseconds=50))
    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError) as raised:
        await timeout.run(make_execution(), body, (), {})
    assert time.monotonic() - started < 2
    assert cancelled.is_set()
    assert str(raised.value) == "Docket task slow-key exceeded timeout of 0.05s"
    assert isinstance(raised.value, TimeoutError)


async def test_extending_from_the_body_keeps_it_alive() -> None:
    """A body that extends its deadline may run past the original base."""
    timeout = Timeout(timedelta(milliseconds=100))

    async def body() -> str:
        for _ in range(4):
            await asyncio.sleep(0.05)
            timeout.extend(timedelta(milliseconds=100))
        return "done"

    assert await timeout.run(make_execution(), body, (), {}) == "done"


async def test_exceptions_from_the_body_propagate() -> None:
    """An ordinary failure of the body is raised as is, not as a timeout."""

    async def body() -> None:
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        await Timeout(timedelta(seconds=5)).run(make_execution(), body, (), {})


async def test_external_cancellation_cancels_the_body() -> None:
    """Cancelling the runner cancels the body and propagates CancelledError."""
    body_cancelled = asyncio.Event()
    body_started = asyncio.Event()

    async def body() -> None:
        body_started.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            body_cancelled.set()
            raise

    timeout = Timeout(timedelta(seconds=30))
    runner = asyncio.create_task(timeout.run(make_execution(), body, (), {}))
    await body_started.wait()
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert body_cancelled.is_set()


async def test_synchronous_bodies_run_in_a_thread() -> None:
    """A plain function body runs off the event loop and returns its value."""

    def body(x: int) -> int:
        return x * 2

    assert (
        await Timeout(timedelta(seconds=5)).run(make_execution(), body, (21,), {}) == 42
    )
