"""The autopipeline: auto-pipelining over one held connection, against a real redis-server.

A lone call is written at once (no task, no future); calls of the same moment share
round trips; an error reply, a forgotten script, a dropped connection and a
cancelled caller each stay contained.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from docket import Docket
from docket._broker.pipelining import AutoPipeline
from tests._support.servers import RedisServer


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_server.url, socket_timeout=None)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def autopipeline(client: aioredis.Redis) -> AsyncIterator[AutoPipeline]:
    autopipeline = AutoPipeline(client)
    try:
        yield autopipeline
    finally:
        await autopipeline.aclose()


@contextmanager
def counting_tasks() -> Iterator[list[asyncio.Task[Any]]]:
    """Every task the running loop creates meanwhile (a real task factory)."""
    loop = asyncio.get_running_loop()
    created: list[asyncio.Task[Any]] = []

    def factory(
        loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any
    ) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        created.append(task)
        return task

    loop.set_task_factory(factory)
    try:
        yield created
    finally:
        loop.set_task_factory(None)


async def reads(client: aioredis.Redis) -> int:
    """The server's count of read events (one per client round trip)."""
    return int((await client.info("stats"))["total_reads_processed"])


async def test_a_lone_call_creates_no_task(autopipeline: AutoPipeline):
    """With nothing in flight a call goes straight out: no task is created for it."""
    await autopipeline.send(("PING",))  # the connection is opened once
    with counting_tasks() as created:
        assert await autopipeline.send(("ECHO", b"alone")) == b"alone"
        assert await autopipeline.send(("ECHO", "again")) == b"again"
    assert created == []


async def test_concurrent_calls_share_round_trips(
    autopipeline: AutoPipeline, client: aioredis.Redis
):
    """Two hundred calls of one moment cost two round trips (the first call, then
    one pipeline of the rest) and one flusher task; replies keep their order."""
    await autopipeline.send(("PING",))
    before = await reads(client)
    calls = [
        asyncio.ensure_future(autopipeline.send(("ECHO", str(i)))) for i in range(200)
    ]
    with counting_tasks() as created:
        replies = await asyncio.gather(*calls)
    after = await reads(client)
    assert replies == [str(i).encode() for i in range(200)]
    assert len(created) == 1
    assert after - before - 1 == 2  # minus the first INFO's own read


async def test_an_error_reply_fails_only_its_call(
    autopipeline: AutoPipeline, client: aioredis.Redis
):
    """A command that Redis refuses raises for its caller; its batch-mates succeed."""
    await client.hset("autopipeline-hash", "f", "v")
    outcomes = await asyncio.gather(
        autopipeline.send(("ECHO", b"a")),
        autopipeline.send(("INCR", "autopipeline-hash")),
        autopipeline.send(("ECHO", b"b")),
        autopipeline.send(("INCR", "autopipeline-hash")),
        autopipeline.send(("ECHO", b"c")),
        return_exceptions=True,
    )
    assert outcomes[0] == b"a" and outcomes[2] == b"b" and outcomes[4] == b"c"
    assert isinstance(outcomes[1], ResponseError)
    assert isinstance(outcomes[3], ResponseError)
    assert "WRONGTYPE" in str(outcomes[3])
    await client.delete("autopipeline-hash")


async def test_scripts_the_server_forgot_are_loaded_and_run(
    redis_server: RedisServer, client: aioredis.Redis
):
    """After SCRIPT FLUSH, a lone script call and a pipelined batch of them both
    load their script again and get the script's real replies."""
    async with Docket(name="autopipeline-noscript", url=redis_server.url) as docket:
        broker = docket.broker
        await client.script_flush()
        assert (await broker.queue.stream_due(1.0)).moved == 0
        await client.script_flush()
        results = await asyncio.gather(
            *(broker.queue.stream_due(1.0) for _ in range(20))
        )
        assert all(result.moved == 0 for result in results)


async def test_a_connection_closed_while_idle_is_opened_again(
    autopipeline: AutoPipeline, client: aioredis.Redis
):
    """When the server closes the held connection between calls, the next call
    opens it again instead of failing."""
    held = await autopipeline.send(("CLIENT", "ID"))
    assert await client.client_kill_filter(_id=held) == 1
    assert await autopipeline.send(("ECHO", b"still here")) == b"still here"
    assert await autopipeline.send(("CLIENT", "ID")) != held


async def test_a_cancelled_caller_leaves_the_replies_in_step(
    autopipeline: AutoPipeline, client: aioredis.Redis
):
    """Cancelling a caller whose reply has not arrived yet must not hand that reply
    to the next caller: the connection is dropped and the next call gets its own."""
    slow = asyncio.ensure_future(
        autopipeline.send(("BLPOP", "autopipeline-empty", "0.3"))
    )
    await asyncio.sleep(0.05)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    assert await autopipeline.send(("ECHO", b"mine")) == b"mine"
    await client.rpush("autopipeline-empty", "x")
    assert await autopipeline.send(("LPOP", "autopipeline-empty")) == b"x"


async def test_closing_gives_the_connection_back_to_the_pool(
    redis_server: RedisServer,
):
    """The autopipeline holds one pool connection while it works and returns it on
    aclose, so a one-connection pool serves other commands again."""
    pool = aioredis.ConnectionPool.from_url(
        redis_server.url, max_connections=1, socket_timeout=None
    )
    client = aioredis.Redis(connection_pool=pool)
    autopipeline = AutoPipeline(client)
    try:
        assert await autopipeline.send(("ECHO", b"x")) == b"x"
        with pytest.raises(RedisConnectionError):
            await client.ping()
        await autopipeline.aclose()
        assert await client.ping() is True
    finally:
        await autopipeline.aclose()
        await client.aclose()
        await pool.disconnect()


async def test_a_lone_add_creates_no_task(redis_server: RedisServer):
    """``await docket.add(...)()`` with nothing else in flight adds no task or
    flusher of its own: the auto-pipeliner costs a lone producer nothing."""

    async def noop() -> None: ...

    async with Docket(name="autopipeline-lone-add", url=redis_server.url) as docket:
        await docket.add(noop)()
        with counting_tasks() as created:
            for _ in range(3):
                await docket.add(noop)()
        assert created == []
        assert await docket.broker.client.xlen(docket.keyspace.stream) == 4


async def test_a_stream_reads_replies_in_order_and_carries_riders(
    autopipeline: AutoPipeline,
):
    """Batches written back to back come back in order, each with its own replies;
    a call made elsewhere meanwhile rides along with the next batch."""
    async with autopipeline.stream() as stream:
        await stream.write([(("ECHO", b"a"), None), (("ECHO", b"b"), None)])
        rider = asyncio.ensure_future(autopipeline.send(("ECHO", b"rider")))
        await asyncio.sleep(0)  # the rider waits for the lane
        await stream.write([(("ECHO", b"c"), None)])
        await stream.write([(("ECHO", b"d"), None), (("ECHO", b"e"), None)])
        assert stream.unread == 3
        assert await stream.read() == [b"a", b"b"]
        assert await stream.read() == [b"c"]
        assert await rider == b"rider"
        assert await stream.read() == [b"d", b"e"]
    assert await autopipeline.send(("ECHO", b"after")) == b"after"


async def test_a_stream_left_with_replies_unread_drops_its_connection(
    autopipeline: AutoPipeline,
):
    """A stream that ends early (its caller failed) leaves no stray reply for the
    next caller: the connection is dropped, and a call riding along fails."""
    await autopipeline.send(("PING",))
    rider: asyncio.Future[object] | None = None
    with pytest.raises(RuntimeError, match="building failed"):
        async with autopipeline.stream() as stream:
            await stream.write([(("ECHO", b"first"), None)])
            rider = asyncio.ensure_future(autopipeline.send(("ECHO", b"rider")))
            await asyncio.sleep(0)
            await stream.write([(("ECHO", b"unread"), None)])
            raise RuntimeError("building failed")
    assert rider is not None
    with pytest.raises(RedisConnectionError):
        await rider
    assert await autopipeline.send(("ECHO", b"mine")) == b"mine"
