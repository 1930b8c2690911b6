"""The embedded ``memory://`` engine: one burner-redis instance per URL and loop."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

# (url, loop) -> engine. Loops are held weakly so that closed loops drop out.
_servers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]] = (
    weakref.WeakKeyDictionary()
)


def _engine_class() -> Any:
    """burner-redis's engine, imported on first use of a memory:// URL."""
    try:
        from burner_redis import BurnerRedis
    except ImportError as error:
        raise ImportError(
            "memory:// URLs need the burner-redis package (module burner_redis): "
            "pip install burner-redis"
        ) from error
    return BurnerRedis


def memory_server(url: str) -> Any:
    """The engine for ``url`` in the running loop, created on first use. The
    package is looked up on every call (a dictionary lookup once imported), so a
    process where burner-redis became unimportable says so even for a URL whose
    engine is cached, as pydocket does."""
    engine = _engine_class()
    loop = asyncio.get_running_loop()
    per_loop = _servers.setdefault(loop, {})
    server = per_loop.get(url)
    if server is None:
        server = engine()
        per_loop[url] = server
    return server


def get_memory_server(url: str) -> Any | None:
    """The cached engine for ``url`` in the running loop, if there is one."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return _servers.get(loop, {}).get(url)


def clear_memory_servers() -> None:
    """Forget every cached in-memory engine (their data goes with them)."""
    _servers.clear()
