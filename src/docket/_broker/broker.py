"""The Broker: one docket's operations over one open backend."""

from __future__ import annotations

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
from .archive import ArchiveOps
from .batch import BatchOps
from .batcher import Batcher
from .deadletters import DeadLetterOps
from .events import EventOps
from .inspection import InspectionOps
from .listing import ListingOps
from .pauses import PauseOps
from .queue import QueueOps
from .results import ResultOps
from .runs import RunOps
from .signals import SignalOps
from .strikes import StrikeOps
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
        self.batcher = None if backend.is_memory else Batcher(backend.client)

    async def aclose(self) -> None:
        """Give back the connection the batcher holds (the backend stays open)."""
        if self.batcher is not None:
            await self.batcher.aclose()

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
