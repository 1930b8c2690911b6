"""A Backend is an open connection to one docket's engine."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.credentials import CredentialProvider

from .client import RedisClient
from .cluster import PubSubNodes, open_cluster_client, plain_client
from .credentials import provider_options
from .memory import memory_server
from .pools import warn_if_pool_too_small
from .secrets import scrubbed
from .sentinel import SentinelConnector, parse_sentinel_url
from .urls import (
    CLUSTER_SCHEMES,
    REDIS_SCHEMES,
    SENTINEL_SCHEMES,
    SUPPORTED_SCHEMES,
    redact_url,
    scheme_of,
)


@dataclass
class Backend:
    """An open client for a docket's URL.

    ``client`` offers the redis.asyncio.Redis methods the broker uses (a
    RedisCluster in cluster mode; burner-redis mirrors them); ``pubsub()`` opens a
    dedicated subscriber.
    """

    url: str
    client: RedisClient
    is_memory: bool
    is_cluster: bool = False
    is_sentinel: bool = False
    connection_pool: Any | None = None
    pubsub_nodes: PubSubNodes | None = None
    text_client_factory: Callable[[], Any] | None = field(default=None, repr=False)

    def __repr__(self) -> str:  # never the URL's password, nor the client's
        kind = "cluster" if self.is_cluster else "sentinel" if self.is_sentinel else ""
        return f"Backend({redact_url(self.url)!r}{', ' + kind if kind else ''})"

    def pubsub(self) -> Any:
        if self.pubsub_nodes is not None:
            return self.pubsub_nodes.pubsub()
        return self.client.pubsub()

    def pipeline(self) -> Any:
        """A non-transactional pipeline: MULTI/EXEC belong to ``@transaction``,
        which restricted ACL users may not have (and cluster
        pipelines never wrap commands in one)."""
        if self.is_memory:
            return self.client.pipeline()
        return self.client.pipeline(transaction=False)

    def prefix_for(self, name: str) -> str:
        return f"{{{name}}}" if self.is_cluster else name

    def longest_block_ms(self, wanted_ms: int) -> int:
        """``wanted_ms``, shortened to half the client's ``socket_timeout`` when one
        is set: a blocking read (XREAD BLOCK) must return before the socket gives up
        on it, or every idle wait would end in a TimeoutError."""
        pool = getattr(self.client, "connection_pool", None)
        options = getattr(pool, "connection_kwargs", None) or {}
        timeout = options.get("socket_timeout")
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            return wanted_ms
        return max(1, min(wanted_ms, int(timeout * 1000 / 2)))

    def text_client(self) -> Any | None:
        """A new client (``decode_responses=True``) to the same server, for
        py-key-value's RedisStore; None where results use the built-in store."""
        return None if self.text_client_factory is None else self.text_client_factory()

    @property
    def description(self) -> str:
        """How to name this connection in logs: the URL without secrets."""
        if self.connection_pool is not None:
            return repr(self.connection_pool)
        return redact_url(self.url)

    def warn_if_pool_too_small(self, concurrency: int) -> bool:
        """Log a WARNING once when the pool is too small for such a worker."""
        if self.is_memory:
            return False
        return warn_if_pool_too_small(self.client, concurrency, self.description)


def check_url(url: str) -> str:
    """Return the URL's scheme, or raise ValueError for one Docket cannot serve."""
    scheme = scheme_of(url)
    if scheme in SUPPORTED_SCHEMES:
        if scheme in SENTINEL_SCHEMES:
            parse_sentinel_url(url)
        return scheme
    raise ValueError(
        f"Unsupported URL scheme {scheme!r} in {redact_url(url)}; expected one of "
        + ", ".join(f"{s}://" for s in SUPPORTED_SCHEMES)
        + " (use redis:// for Valkey)"
    )


def _pool_text_client(pool: Any) -> Any | None:
    """A decoding client over a new pool like ``pool`` (None if it cannot be copied)."""
    if type(pool) not in (aioredis.ConnectionPool, aioredis.BlockingConnectionPool):
        return None
    kwargs = {**pool.connection_kwargs, "decode_responses": True}
    copy = type(pool)(
        connection_class=pool.connection_class,
        max_connections=pool.max_connections,
        **kwargs,
    )
    return aioredis.Redis.from_pool(copy)  # closing the client closes the copy


@asynccontextmanager
async def open_backend(
    url: str,
    connection_pool: Any | None = None,
    credential_provider: CredentialProvider | None = None,
) -> AsyncGenerator[Backend, None]:
    """Open the engine for ``url`` and close it (but never a memory engine, nor a
    caller's ``connection_pool``) on exit. Errors never carry the URL's secrets.

    ``credential_provider`` authenticates every connection opened for it (data,
    pub/sub, the result store's); memory:// has nothing to authenticate."""
    scheme = check_url(url)
    if scheme == "memory":
        yield Backend(url=url, client=memory_server(url), is_memory=True)
        return
    if connection_pool is not None:
        if scheme not in REDIS_SCHEMES:
            raise ValueError(
                "connection_pool= works with redis://, rediss:// and unix:// "
                f"URLs, not {redact_url(url)}"
            )
        pool = connection_pool
        yield Backend(
            url=url,
            client=aioredis.Redis(connection_pool=pool),
            is_memory=False,
            connection_pool=pool,
            text_client_factory=lambda: _pool_text_client(pool),
        )
        return
    if scheme in CLUSTER_SCHEMES:
        with scrubbed(url):
            cluster = await open_cluster_client(url, credential_provider)
        nodes = PubSubNodes(url, cluster, credential_provider)
        try:
            yield Backend(url, cluster, False, is_cluster=True, pubsub_nodes=nodes)
        finally:
            try:
                await nodes.aclose()
            finally:
                await cluster.aclose()
        return
    if scheme in SENTINEL_SCHEMES:
        connector = SentinelConnector(url, credential_provider)
        client = connector.master()
        try:
            yield Backend(
                url,
                client,
                False,
                is_sentinel=True,
                text_client_factory=lambda: connector.master(decode_responses=True),
            )
        finally:
            try:
                await client.aclose()
            finally:
                await connector.aclose()
        return
    credentials = provider_options(credential_provider)
    with scrubbed(url):
        client = plain_client(url, **credentials)
    try:
        yield Backend(
            url=url,
            client=client,
            is_memory=False,
            text_client_factory=lambda: plain_client(
                url, decode_responses=True, **credentials
            ),
        )
    finally:
        await client.aclose()
