"""Redis Sentinel: parsing ``redis+sentinel://`` URLs and finding the master.

Syntax::

    redis+sentinel://[user:pass@]host[:port][,host[:port]...]/<service>[/<db>][?opts]

The userinfo authenticates to the data nodes; ``sentinel_username`` and
``sentinel_password`` in the query authenticate to the Sentinel daemons. Every
other query option is parsed as for ``redis://`` and applies to data-node
connections. ``rediss+sentinel`` turns on TLS for Sentinels and data nodes alike.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from redis.asyncio.connection import parse_url
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff
from redis.credentials import CredentialProvider

from .credentials import provider_options
from .urls import SENTINEL_SCHEMES, redact_url

DEFAULT_SENTINEL_PORT = 26379
# Query options that are ignored: the database comes from the path, credentials
# from the userinfo.
_IGNORED = ("db", "username", "password", "sentinel_username", "sentinel_password")
# How long a Sentinel daemon may take to answer a discovery query.
SENTINEL_TIMEOUT = 5.0


def _keepalive_options() -> dict[int, int]:
    wanted = {"TCP_KEEPIDLE": 30, "TCP_KEEPINTVL": 5, "TCP_KEEPCNT": 3}
    return {getattr(socket, n): v for n, v in wanted.items() if hasattr(socket, n)}


@dataclass
class SentinelTarget:
    """Everything a ``redis+sentinel://`` URL says."""

    sentinels: list[tuple[str, int]]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None
    tls: bool = False
    options: dict[str, Any] = field(default_factory=dict[str, Any])

    def node_options(self) -> dict[str, Any]:
        """Keyword arguments for data-node connections (defaults, then the URL's)."""
        settings: dict[str, Any] = {
            "socket_timeout": None,
            "socket_keepalive": True,
            "socket_keepalive_options": _keepalive_options(),
            "db": self.db,
            "username": self.username,
            "password": self.password,
        }
        if self.tls:
            settings["ssl"] = True
        settings.update(self.options)
        return settings

    def sentinel_options(self) -> dict[str, Any]:
        """Keyword arguments for connections to the Sentinel daemons."""
        settings: dict[str, Any] = {
            "socket_timeout": SENTINEL_TIMEOUT,
            "socket_connect_timeout": SENTINEL_TIMEOUT,
            # discovery asks every Sentinel in turn: retry each one only briefly
            "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 1),
        }
        if self.sentinel_username is not None:
            settings["username"] = self.sentinel_username
        if self.sentinel_password is not None:
            settings["password"] = self.sentinel_password
        if self.tls:
            settings["ssl"] = True
            settings.update({k: v for k, v in self.options.items() if "ssl" in k})
        return settings


def _member(text: str, url: str) -> tuple[str, int]:
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or not host:
            raise ValueError(f"Malformed IPv6 Sentinel host in {redact_url(url)}")
        if rest and not rest.startswith(":"):
            raise ValueError(f"Malformed Sentinel host {text!r} in {redact_url(url)}")
        port_text = rest[1:] if rest else ""
    else:
        if text.count(":") > 1:
            raise ValueError(
                f"IPv6 Sentinel hosts must be bracketed ([::1]:26379) in {redact_url(url)}"
            )
        host, _, port_text = text.partition(":")
        if not host:
            raise ValueError(f"A Sentinel member has no host in {redact_url(url)}")
    if not port_text:
        return host, DEFAULT_SENTINEL_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"Bad Sentinel port {port_text!r} in {redact_url(url)}")
    return host, int(port_text)


def parse_sentinel_url(url: str) -> SentinelTarget:
    """Parse a ``redis+sentinel://`` or ``rediss+sentinel://`` URL (ValueError if
    it is malformed)."""
    scheme, separator, rest = url.partition("://")
    scheme = scheme.lower()
    if not separator or scheme not in SENTINEL_SCHEMES:
        raise ValueError(f"Not a Sentinel URL: {redact_url(url)}")
    rest, _, _fragment = rest.partition("#")
    location, _, query = rest.partition("?")
    netloc, slash, path = location.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon and secret else None
    members = [m.strip() for m in hosts.split(",") if m.strip()]
    if not members:
        raise ValueError(f"A Sentinel URL needs at least one host: {redact_url(url)}")
    sentinels = [_member(m, url) for m in members]
    segments = [unquote(s) for s in path.split("/")] if slash else []
    while segments and not segments[-1]:
        segments.pop()
    if not segments or not segments[0]:
        raise ValueError(f"A Sentinel URL needs a service name: {redact_url(url)}")
    if len(segments) > 2:
        raise ValueError(f"Unexpected path segments in {redact_url(url)}")
    db = 0
    if len(segments) == 2:
        try:
            db = int(segments[1])
        except ValueError:
            raise ValueError(
                f"The database must be an integer, not {segments[1]!r}, "
                f"in {redact_url(url)}"
            ) from None
    raw = {k: v[0] for k, v in parse_qs(query).items() if v}
    options: dict[str, Any] = dict(parse_url(f"redis://localhost?{query}"))
    for name in ("host", "port", "connection_class", *_IGNORED):
        options.pop(name, None)
    return SentinelTarget(
        sentinels=sentinels,
        service=segments[0],
        db=db,
        username=username,
        password=password,
        sentinel_username=raw.get("sentinel_username"),
        sentinel_password=raw.get("sentinel_password"),
        tls=scheme == "rediss+sentinel",
        options=options,
    )


class SentinelConnector:
    """The Sentinel clients of one URL, and master clients discovered through them."""

    def __init__(
        self, url: str, credential_provider: CredentialProvider | None = None
    ) -> None:
        self.target = parse_sentinel_url(url)
        # data-node credentials; the Sentinel daemons keep theirs from the URL
        self._credentials = provider_options(credential_provider)
        self.sentinel = Sentinel(
            self.target.sentinels, sentinel_kwargs=self.target.sentinel_options()
        )

    def master(self, **overrides: Any) -> Any:
        """A client for the current master; it follows failovers by itself."""
        settings: dict[str, Any] = {"decode_responses": False}
        settings.update(self.target.node_options())
        if self._credentials:
            del settings["username"], settings["password"]
            settings.update(self._credentials)
        settings.update(overrides)
        return self.sentinel.master_for(self.target.service, **settings)

    async def aclose(self) -> None:
        for client in self.sentinel.sentinels:
            await client.aclose()
