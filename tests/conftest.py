"""Fixtures every test folder shares: every backend-parametrized test runs on
memory:// and on a real redis-server (and on a Redis Cluster when marked
``cluster_ok``). Fixtures only one folder uses are in that folder's conftest.py;
helpers that are not fixtures are in tests/_support/."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from docket import Docket, Worker
from docket._redis import clear_memory_servers
from docket.cli import _logging as docket_logging
from tests._support.cluster import RedisClusterNodes
from tests._support.servers import RedisServer, TlsFiles, make_tls_files, tls_supported
from tests._support.timings import FAST


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "cluster_ok: also run on a real three-primary Redis Cluster"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``cluster_ok`` get a third backend: ``redis+cluster://``.

    ``DOCKET_TEST_BACKENDS=cluster`` (a comma list) runs every backend-parametrized
    test on the listed backends instead, e.g. the whole suite on the cluster.
    """
    if "backend" not in metafunc.fixturenames or _parametrizes_backend(metafunc):
        return
    chosen = os.environ.get("DOCKET_TEST_BACKENDS")
    names = [name.strip() for name in (chosen or "").split(",") if name.strip()]
    if not names and metafunc.definition.get_closest_marker("cluster_ok"):
        names = ["memory", "redis", "cluster"]
    if names:  # a marker, so that pytest skips the fixture's own params
        mark = pytest.mark.parametrize("backend", names, indirect=True)
        metafunc.definition.add_marker(mark)


def _parametrizes_backend(metafunc: pytest.Metafunc) -> bool:
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", "")
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        if "backend" in names:
            return True
    return False


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def tls_files() -> Iterator[TlsFiles]:
    files = make_tls_files()
    try:
        yield files
    finally:
        files.close()


@pytest.fixture(scope="session")
def redis_cluster(tls_files: TlsFiles) -> Iterator[RedisClusterNodes]:
    """One cluster per test process (each xdist worker has its own)."""
    cluster = RedisClusterNodes(tls_files if tls_supported() else None).start()
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def docket_url(backend: str, request: pytest.FixtureRequest) -> str:
    if backend == "memory":
        return f"memory://test-{uuid.uuid4().hex[:8]}"
    if request.node.get_closest_marker("memory_only"):
        pytest.skip("memory:// only")
    if backend == "cluster":
        return request.getfixturevalue("redis_cluster").url
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
    async with Worker(docket, **FAST) as worker:
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


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Remove the root handlers a CLI run installed (their stream is gone)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    docket_logging._installed.clear()
    root.setLevel(level)
