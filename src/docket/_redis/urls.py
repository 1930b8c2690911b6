"""URL parsing helpers shared by the client seam and the CLI."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

REDIS_SCHEMES = ("redis", "rediss", "unix")
UNSUPPORTED_YET = (
    "redis+cluster",
    "rediss+cluster",
    "redis+sentinel",
    "rediss+sentinel",
)


def scheme_of(url: str) -> str:
    return urlsplit(url).scheme.lower()


def is_memory_url(url: str) -> bool:
    return scheme_of(url) == "memory"


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``, safe for logs and output."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{user}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
