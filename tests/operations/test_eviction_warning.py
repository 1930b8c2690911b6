"""A Redis that may evict keys is reported: once in the worker's log at start-up,
and on the health endpoint for as long as the worker runs.

Under any maxmemory-policy but ``noeviction`` Redis deletes keys when memory runs
short, so queued tasks, run records and results can vanish without an error. Each
test starts a redis-server of its own (the policy is server-wide).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from docket import Docket, Worker
from docket.instrumentation import healthcheck_server
from tests._support.cli import http_get
from tests._support.servers import RedisServer, free_port
from tests._support.timings import FAST


@pytest.fixture
def server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.close()


def eviction_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "maxmemory-policy" in r.getMessage()
    ]


async def run_twice(url: str) -> Worker:
    """A worker that runs two sessions (two run_until_finished) and a task."""

    async def noop() -> None: ...

    async with Docket(name="evict", url=url) as docket:
        docket.register(noop)
        await docket.add(noop)()
        async with Worker(docket, **FAST) as worker:
            await worker.run_until_finished()
            await worker.run_until_finished()
            return worker


async def test_a_redis_that_evicts_is_warned_about_once_and_on_the_health_endpoint(
    server: RedisServer, caplog: pytest.LogCaptureFixture
):
    """With maxmemory-policy allkeys-lru the worker logs one warning naming the
    policy and what it risks, however many sessions it runs, and its health
    endpoint answers 200 with the same warning under ``OK``."""
    server.cli("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    with caplog.at_level(logging.WARNING, logger="docket.worker"):
        worker = await run_twice(server.url)
    (warning,) = eviction_warnings(caplog)
    assert "'allkeys-lru'" in warning and "noeviction" in warning
    assert "vanish" in warning
    port = free_port()
    with healthcheck_server(
        host="127.0.0.1", port=port, probe=lambda: True, notes=worker.health_warnings
    ):
        status, body = http_get(port) or (0, "")
    assert status == 200
    assert body.splitlines()[0] == "OK"
    assert body.splitlines()[1].startswith(
        "WARNING: Redis's maxmemory-policy is 'allkeys-lru'"
    )


async def test_a_redis_that_never_evicts_gets_no_warning(
    server: RedisServer, caplog: pytest.LogCaptureFixture
):
    """With the default noeviction nothing is said and the endpoint answers OK."""
    with caplog.at_level(logging.WARNING, logger="docket.worker"):
        worker = await run_twice(server.url)
    assert eviction_warnings(caplog) == []
    assert worker.health_warnings() == []


@pytest.mark.parametrize(
    ("refused", "warned"),
    [
        (["-config"], True),  # CONFIG refused: INFO memory still tells
        (["-config", "-info"], False),  # neither: nothing to say, nothing breaks
    ],
)
async def test_an_acl_user_that_may_not_read_the_config_is_tolerated(
    server: RedisServer,
    caplog: pytest.LogCaptureFixture,
    refused: list[str],
    warned: bool,
):
    """A user refused CONFIG (and perhaps INFO) still runs its worker: the policy
    is read from INFO when CONFIG is refused, and when neither may be read the
    worker starts without a word about it."""
    server.cli("CONFIG", "SET", "maxmemory-policy", "volatile-lru")
    server.cli(
        "ACL",
        "SETUSER",
        "narrow",
        "on",
        ">pw",
        "~evict:*",
        "&evict:*",
        "+@all",
        *refused,
    )
    url = server.url.replace("redis://", "redis://narrow:pw@")
    with caplog.at_level(logging.WARNING, logger="docket.worker"):
        worker = await asyncio.wait_for(run_twice(url), 30)
    assert len(eviction_warnings(caplog)) == (1 if warned else 0)
    assert bool(worker.health_warnings()) is warned
