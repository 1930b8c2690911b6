"""The Broker: one docket's operations over one open backend."""

from __future__ import annotations

from typing import Any

from .._defaults import (
    DEAD_LETTER_LIMIT,
    FAILED_LIMIT,
    FAILED_RETENTION,
    STATS_FLUSH_INTERVAL,
    STATS_RETENTION,
    WORKER_GROUP,
)
from .._keys import Keyspace
from .._redis import Backend
from .._redis.client import RedisClient
from .admission import AdmissionOps
from .dead import DeadLetterOps
from .events import EventOps
from .failed import ArchiveOps
from .gates import GateOps
from .listing import InspectionOps, ListingOps
from .pauses import PauseOps
from .pipelining import AutoPipeline
from .queue import QueueOps
from .runs import ResultOps, RunOps
from .schedule_many import BatchOps
from .signals import SignalOps
from .strike_log import StrikeOps
from .sweep import SweepOps
from .tally import Tally
from .workers import WorkerOps


class Broker(
    BatchOps,
    RunOps,
    PauseOps,
    QueueOps,
    SweepOps,
    EventOps,
    WorkerOps,
    AdmissionOps,
    ResultOps,
    InspectionOps,
    StrikeOps,
    SignalOps,
    DeadLetterOps,
    ArchiveOps,
    ListingOps,
    GateOps,
):
    """Docket-level operations (schedule, claim, settle, cancel, read, ...)."""

    def __init__(
        self,
        backend: Backend,
        keys: Keyspace,
        records_running: bool = True,
        failed_limit: int = FAILED_LIMIT,
        failed_retention: float = FAILED_RETENTION.total_seconds(),
        dead_limit: int = DEAD_LETTER_LIMIT,
    ) -> None:
        self.backend = backend
        self.client: RedisClient = backend.client
        self.keys = keys
        self.group = WORKER_GROUP
        self._records_running = records_running
        self.failed_limit = failed_limit
        self.failed_retention = failed_retention
        self.dead_limit = dead_limit
        self.stats_retention = int(STATS_RETENTION.total_seconds()) + 120
        self.tally = Tally(STATS_FLUSH_INTERVAL.total_seconds())
        # Redis: concurrent script calls share pipelines. In-process: call directly.
        self.autopipeline = None if backend.is_memory else AutoPipeline(backend.client)

    async def aclose(self) -> None:
        """Give back the connection the autopipeline holds (the backend stays open)."""
        if self.autopipeline is not None:
            await self.autopipeline.aclose()

    async def eviction_policy(self) -> str | None:
        """Redis's ``maxmemory-policy``: from CONFIG GET, else from INFO memory (an
        ACL user may be refused one and allowed the other); None when neither may
        be read, or on memory://, which never evicts."""
        if self.backend.is_memory:
            return None
        for read in (self._policy_from_config, self._policy_from_info):
            try:
                policy = await read()
            except Exception:  # refused (ACL), or unknown to this server
                continue
            if policy:
                return policy
        return None

    async def _policy_from_config(self) -> str | None:
        return _policy(
            await self.client.config_get("maxmemory-policy"), "maxmemory-policy"
        )

    async def _policy_from_info(self) -> str | None:
        return _policy(await self.client.info("memory"), "maxmemory_policy")

    async def check_access(self, worker: str) -> None:
        """Run, harmlessly, each kind of command a worker needs (the consumer group,
        reading its own pending history, the claim and settle scripts with empty
        batches), so that a missing ACL rule shows at start-up, not mid-run."""
        await self.ensure_group()
        await self.client.xreadgroup(
            self.group, worker, {self.keys.stream: "0"}, count=1
        )
        await self.claim(worker, "", [])
        await self.settle([], 0)


def _policy(reply: Any, field: str) -> str | None:
    """The policy in a CONFIG GET or INFO reply (on a cluster, one dict per node:
    the first node's answer, as every node is configured alike)."""
    if not isinstance(reply, dict):
        return None
    value = reply.get(field, reply.get(field.encode()))  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    if value is None:
        nodes = [v for v in reply.values() if isinstance(v, dict)]  # pyright: ignore[reportUnknownVariableType, reportUnknownMemberType]
        return _policy(nodes[0], field) if nodes else None
    return value.decode() if isinstance(value, bytes) else str(value)  # pyright: ignore[reportUnknownArgumentType]
