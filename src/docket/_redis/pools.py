"""Connection-pool sizing: what a worker holds at once, and a warning when a pool
is too small for it.

A worker keeps, at the same time: one blocking stream read, one pub/sub
connection (cancellations and wake-ups), the strike monitor's blocking read
(it shares a custom pool), the connection its session's autopipeline holds (claims,
settles, non-blocking reads, the scheduler's moves), the one the Docket's autopipeline
holds (adds, retries), and one each for lease renewal and heartbeats. Tasks that
touch Redis themselves (progress, results of other tasks) take one more each
while they do. redis-py's default
``ConnectionPool`` raises ``ConnectionError("Too many connections")`` instead of
waiting once ``max_connections`` are in use, so an undersized pool shows up as
sporadic failures; hence the warning.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("docket.worker")

# Blocking read + pub/sub + strike monitor + two autopipelines + leases + heartbeats.
WORKER_BASE_CONNECTIONS = 7

_warned: set[str] = set()


def needed_connections(concurrency: int) -> int:
    """The smallest ``max_connections`` a worker of this concurrency should have.

    The fixed connections, and at least one per task slot ("match or exceed the
    worker's concurrency")."""
    return max(WORKER_BASE_CONNECTIONS, concurrency)


def pool_limit(client: Any) -> int | None:
    """The ``max_connections`` of a redis-py client's pool (for a cluster client,
    of each node's pool), when it has one."""
    pool = getattr(client, "connection_pool", None)
    if pool is None:
        get_nodes: Any = getattr(client, "get_nodes", None)
        nodes: list[Any] = [] if get_nodes is None else list(get_nodes())
        pool = nodes[0] if nodes else None
    limit = getattr(pool, "max_connections", None)
    return limit if isinstance(limit, int) else None


def warn_if_pool_too_small(client: Any, concurrency: int, description: str) -> bool:
    """Log a WARNING (once per ``description``: a redacted URL or a pool's repr)
    when the client's pool cannot hold what a worker of ``concurrency`` needs.
    True when it warned now."""
    limit = pool_limit(client)
    needed = needed_connections(concurrency)
    if limit is None or limit >= needed or description in _warned:
        return False
    _warned.add(description)
    logger.warning(
        "The connection pool for %s allows %d connections, but a worker with "
        "concurrency %d needs at least %d (%d of its own, and one per task that "
        "uses Redis); raise max_connections to avoid 'Too many connections' errors",
        description,
        limit,
        concurrency,
        needed,
        WORKER_BASE_CONNECTIONS,
    )
    return True
