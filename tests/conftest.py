"""Fixtures: every behaviour test runs on memory:// and on a real redis-server."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from docket import Docket, Worker
from docket._redis import clear_memory_servers

from ._servers import RedisServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def docket_url(backend: str, request: pytest.FixtureRequest) -> str:
    if backend == "memory":
        return f"memory://test-{uuid.uuid4().hex[:8]}"
    if request.node.get_closest_marker("memory_only"):
        pytest.skip("memory:// only")
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.url


@pytest.fixture
def docket_name() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def docket(docket_url: str, docket_name: str) -> AsyncIterator[Docket]:
    async with Docket(name=docket_name, url=docket_url) as docket:
        yield docket
    clear_memory_servers()


@pytest.fixture
async def worker(docket: Docket) -> AsyncIterator[Worker]:
    async with Worker(
        docket,
        minimum_check_interval=timedelta(milliseconds=5),
        scheduling_resolution=timedelta(milliseconds=5),
    ) as worker:
        yield worker


async def eventually(
    condition: Callable[[], Any | Awaitable[Any]],
    timeout: float = 5.0,
    interval: float = 0.01,
) -> Any:
    """Wait until ``condition()`` is truthy (awaiting it if needed), or fail."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)
