"""Fixtures only the operations tests use (the multi-process tests' workers, a
redis-server a test may stop)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests._support.servers import RedisServer


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Worker processes a test starts; each is killed (by its pid) at teardown."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


@pytest.fixture
def own_redis_server() -> Iterator[RedisServer]:
    """A redis-server (AOF on) of the test's own, for a test that stops or
    restarts it (the session's ``redis_server`` serves every other test)."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.close()
