"""URL parsing helpers shared by the client seam and the CLI."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

REDIS_SCHEMES = ("redis", "rediss", "unix")
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
SUPPORTED_SCHEMES = ("memory", *REDIS_SCHEMES, *CLUSTER_SCHEMES, *SENTINEL_SCHEMES)

# Query parameters whose values are secrets (password=, sentinel_password=, ...).
_SECRET_QUERY = re.compile(r"((?:^|[?&;])[A-Za-z_]*password=)[^&;#]*", re.IGNORECASE)


def scheme_of(url: str) -> str:
    return urlsplit(url).scheme.lower()


def is_memory_url(url: str) -> bool:
    return scheme_of(url) == "memory"


def is_cluster_url(url: str) -> bool:
    return scheme_of(url) in CLUSTER_SCHEMES


def key_prefix(name: str, url: str | None) -> str:
    """The prefix of a docket's keys: ``{name}`` on a cluster URL, so that every key
    of the docket hashes to one slot, else the name itself."""
    return f"{{{name}}}" if url is not None and is_cluster_url(url) else name


def is_sentinel_url(url: str) -> bool:
    return scheme_of(url) in SENTINEL_SCHEMES


def strip_scheme_suffix(url: str) -> str:
    """``redis+cluster://...`` as ``redis://...`` (likewise ``rediss+...``)."""
    scheme, separator, rest = url.partition("://")
    return scheme.split("+", 1)[0] + separator + rest


def redact_url(url: str) -> str:
    """The URL with every password replaced by ``***``, safe for logs and output.

    Covers the userinfo password (also in multi-host Sentinel URLs) and query
    parameters such as ``password=`` and ``sentinel_password=``.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    end = len(rest)
    for mark in "/?#":
        found = rest.find(mark)
        if found != -1:
            end = min(end, found)
    netloc, tail = rest[:end], rest[end:]
    userinfo, at, hosts = netloc.rpartition("@")
    if at and ":" in userinfo:
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{hosts}"
    path, question, query = tail.partition("?")
    if question:
        query = _SECRET_QUERY.sub(r"\1***", query)
    return f"{scheme}{separator}{netloc}{path}{question}{query}"
