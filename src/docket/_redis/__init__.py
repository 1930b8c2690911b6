"""The client seam: the only code that knows which engine serves a URL.

``redis://``, ``rediss://`` and ``unix://`` go through redis-py's client,
``redis+cluster://``/``rediss+cluster://`` through its cluster client (keys
hash-tagged ``{name}:*``, pub/sub over a node connection), and
``redis+sentinel://``/``rediss+sentinel://`` through its Sentinel client;
``memory://`` goes through the embedded burner-redis engine. Everything above
this package talks to a :class:`Backend` and never asks which one it got.
"""

from .backend import Backend, check_url, open_backend
from .memory import clear_memory_servers, get_memory_server
from .pools import WORKER_BASE_CONNECTIONS, needed_connections
from .sentinel import SentinelTarget, parse_sentinel_url
from .urls import (
    is_cluster_url,
    is_memory_url,
    is_sentinel_url,
    key_prefix,
    redact_url,
)

__all__ = [
    "WORKER_BASE_CONNECTIONS",
    "Backend",
    "SentinelTarget",
    "check_url",
    "clear_memory_servers",
    "get_memory_server",
    "is_cluster_url",
    "is_memory_url",
    "is_sentinel_url",
    "key_prefix",
    "needed_connections",
    "open_backend",
    "parse_sentinel_url",
    "redact_url",
]
