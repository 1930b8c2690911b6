"""A Backend is an open connection to one docket's engine."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import redis.asyncio as aioredis

from .memory import memory_server
from .urls import REDIS_SCHEMES, UNSUPPORTED_YET, redact_url, scheme_of


@dataclass
class Backend:
    """An open client for a docket's URL.

    ``client`` offers the redis.asyncio.Redis methods the broker uses (burner-redis
    mirrors them); ``pubsub()`` opens a dedicated subscriber.
    """

    url: str
    client: Any
    is_memory: bool
    is_cluster: bool = False

    def pubsub(self) -> Any:
        return self.client.pubsub()

    def prefix_for(self, name: str) -> str:
        return f"{{{name}}}" if self.is_cluster else name


def _redis_client(url: str, connection_pool: Any | None) -> Any:
    if connection_pool is not None:
        return aioredis.Redis(connection_pool=connection_pool)
    query = parse_qs(urlsplit(url).query)
    options: dict[str, Any] = {"decode_responses": False}
    if "socket_timeout" not in query:
        options["socket_timeout"] = None
    return aioredis.Redis.from_url(url, **options)


def check_url(url: str) -> str:
    """Return the URL's scheme, or raise ValueError for one Docket cannot serve."""
    scheme = scheme_of(url)
    if scheme == "memory" or scheme in REDIS_SCHEMES:
        return scheme
    if scheme in UNSUPPORTED_YET:
        raise ValueError(
            f"{scheme}:// URLs are not supported by this release of docket "
            f"({redact_url(url)}); use redis://, rediss://, unix:// or memory://"
        )
    raise ValueError(
        f"Unsupported URL scheme {scheme!r} in {redact_url(url)}; expected "
        "redis://, rediss://, unix:// or memory://"
    )


@asynccontextmanager
async def open_backend(
    url: str, connection_pool: Any | None = None
) -> AsyncGenerator[Backend, None]:
    """Open the engine for ``url`` and close it (but never a memory engine) on exit."""
    scheme = check_url(url)
    if scheme == "memory":
        yield Backend(url=url, client=memory_server(url), is_memory=True)
        return
    client = _redis_client(url, connection_pool)
    try:
        yield Backend(url=url, client=client, is_memory=False)
    finally:
        if connection_pool is None:
            await client.aclose()
