"""Helpers the Signal / Suspend / Checkpoint behaviour tests share: a worker
that polls fast, run until idle or until a condition holds, a key's state, and
a Redis blip injected into one store call."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from docket import Docket, ExecutionState, Worker
from tests.conftest import eventually

FAST = {
    "minimum_check_interval": timedelta(milliseconds=5),
    "scheduling_resolution": timedelta(milliseconds=5),
}


async def run(docket: Docket) -> None:
    """Run a worker until nothing is left to run now."""
    async with Worker(docket, **FAST) as worker:
        await worker.run_until_finished()


async def run_until(
    docket: Docket, condition: Callable[[], object], timeout: float = 10.0
) -> None:
    """Run a worker until ``condition()`` holds (awaited when it is a coroutine):
    run_until_finished does not wait for signal waits or long sleeps."""
    async with Worker(docket, **FAST) as worker:
        running = asyncio.ensure_future(worker.run_forever())
        try:
            await eventually(condition, timeout=timeout)
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)


async def state(docket: Docket, key: str) -> ExecutionState | None:
    execution = await docket.get_execution(key)
    return None if execution is None else execution.state


def reaches(docket: Docket, key: str, wanted: ExecutionState) -> Callable[[], Any]:
    """A condition for ``run_until``: ``key`` is in state ``wanted``."""

    async def check() -> bool:
        return await state(docket, key) is wanted

    return check


def blip_once(monkeypatch: pytest.MonkeyPatch, store: type, method: str) -> list[str]:
    """Make the next call of ``store.method`` fail as a dropped connection does
    (a redis-server restart), then behave; the list returned holds ``method``
    until the blip has happened (a test asserts it emptied)."""
    real = getattr(store, method)
    pending = [method]

    async def blip(self: Any, *args: Any, **kwargs: Any) -> Any:
        if pending:
            pending.pop()
            raise RedisConnectionError("Connection closed by server.")
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(store, method, blip)
    return pending
