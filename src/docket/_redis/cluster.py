"""Redis Cluster: the cluster client, and the node connections pub/sub goes through.

Every key of a docket is hash-tagged ``{name}:*`` so it lives in one slot; the
scripts and pipelines then run on that slot's primary like on a standalone
server. Pub/sub is not keyed, and redis-py's async cluster client (before 6.x)
offers none: subscribers use a plain client connected to one primary instead.
Cluster nodes forward every PUBLISH over the cluster bus, so which node a
subscriber is connected to does not matter.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.credentials import CredentialProvider
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoPermissionError, RedisClusterException

from .credentials import provider_options
from .urls import strip_scheme_suffix

try:  # redis-py 7 and later
    from redis.maint_notifications import (
        MaintNotificationsConfig as _MaintNotificationsConfig,
    )
except ImportError:  # pragma: no cover - older redis-py has no such notifications
    _MaintNotificationsConfig = None

# Query options that configure the cluster client, not a node connection.
_CLUSTER_ONLY = frozenset(
    {
        "require_full_coverage",
        "read_from_replicas",
        "load_balancing_strategy",
        "reinitialize_steps",
        "cluster_error_retry_attempts",
        "connection_error_retry_attempts",
        "dynamic_startup_nodes",
        "address_remap",
        "readonly",
    }
)


def _has_option(url: str, name: str) -> bool:
    return any(key == name for key, _ in parse_qsl(urlsplit(url).query))


def node_url(url: str, host: str, port: int) -> str:
    """The plain ``redis://``/``rediss://`` URL of one node, keeping credentials
    and connection options (TLS files, timeouts) but not cluster-only options."""
    parts = urlsplit(strip_scheme_suffix(url))
    userinfo = parts.netloc.rpartition("@")[0]
    address = f"[{host}]" if ":" in host else host
    netloc = f"{userinfo}@{address}:{port}" if userinfo else f"{address}:{port}"
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in _CLUSTER_ONLY]
    return urlunsplit((parts.scheme, netloc, "", urlencode(query), ""))


def plain_client(url: str, **options: Any) -> Any:
    """A redis-py client for a ``redis://``/``rediss://``/``unix://`` URL, with the
    read timeout off unless the URL sets ``socket_timeout``."""
    settings: dict[str, Any] = {"decode_responses": False, **options}
    if not _has_option(url, "socket_timeout"):
        settings["socket_timeout"] = None
    if _MaintNotificationsConfig is not None:
        # While these (managed-service) notifications are "auto", redis-py 8's pool
        # skips its check for connections the server closed while they sat idle,
        # so the first command after a Redis restart would fail.
        settings.setdefault(
            "maint_notifications_config", _MaintNotificationsConfig(enabled=False)
        )
    return aioredis.Redis.from_url(url, **settings)


async def open_cluster_client(
    url: str, credential_provider: CredentialProvider | None = None
) -> Any:
    """A connected cluster client for a ``redis+cluster``/``rediss+cluster`` URL
    (every node connection authenticated by ``credential_provider`` when given)."""
    plain = strip_scheme_suffix(url)
    options: dict[str, Any] = {
        "decode_responses": False,
        **provider_options(credential_provider),
    }
    if not _has_option(url, "socket_timeout"):
        options["socket_timeout"] = None
    client = RedisCluster.from_url(plain, **options)
    try:
        await client.initialize()
    except BaseException as error:
        await client.aclose()
        if _denied_cluster_slots(error):
            raise NoPermissionError(
                "This Redis user may not run CLUSTER SLOTS, which the cluster client "
                "needs to find the nodes: add +cluster|slots to its ACL rule, e.g. "
                "ACL SETUSER <user> +cluster|slots (see docs/topologies.md)"
            ) from None
        if isinstance(error, RedisClusterException):  # e.g. no node answered
            raise RedisConnectionError(str(error)) from error
        raise
    return client


def _denied_cluster_slots(error: BaseException) -> bool:
    seen: BaseException | None = error
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, NoPermissionError) and "cluster|slots" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class PubSubNodes:
    """Plain clients to cluster primaries, one per node, for subscribing and
    publishing. Each ``client()`` call asks the cluster client which primary to
    use, so a failover moves new subscriptions to a live node."""

    def __init__(
        self,
        url: str,
        cluster: Any,
        credential_provider: CredentialProvider | None = None,
    ) -> None:
        self._url = url
        self._cluster = cluster
        self._credentials = provider_options(credential_provider)
        self._clients: dict[str, Any] = {}

    def client(self) -> Any:
        primaries = self._cluster.get_primaries()
        if not primaries:  # pragma: no cover - an initialised cluster has primaries
            raise RuntimeError("The Redis cluster has no primary node")
        node = primaries[0]
        client = self._clients.get(node.name)
        if client is None:
            address = node_url(self._url, node.host, node.port)
            client = plain_client(address, **self._credentials)
            self._clients[node.name] = client
        return client

    def pubsub(self) -> Any:
        return self.client().pubsub()

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
