"""The Broker: one docket's operations over one open backend."""

from __future__ import annotations

from typing import Any

from .._defaults import (
    DEAD_LETTER_LIMIT,
    FAILED_LIMIT,
    FAILED_RETENTION,
)
from .._keys import Keyspace
from .._redis import Backend
from .admission import AdmissionStore
from .dead import DeadStore
from .events import EventStore
from .failed import FailedStore
from .fair import FairStore
from .gates import GateStore
from .lanes import LaneStore
from .listing import ViewStore
from .mailbox import MailboxStore
from .pauses import PauseStore
from .queue import QueueStore
from .runs import ResultStore, RunStore
from .signals import SignalStore
from .stats import StatsStore
from .steps import StepStore
from .store import BrokerBase
from .strike_log import StrikeStore
from .sweep import SweepStore
from .workers import WorkerStore


class Broker(BrokerBase):
    """One docket's operations, in named stores: a call site says which part of
    the docket's data it touches (``broker.runs.claim``, ``broker.queue.schedule``,
    ``broker.failed.find``). Every store shares this broker's backend, keyspace,
    scripts and auto-pipeline."""

    def __init__(
        self,
        backend: Backend,
        keys: Keyspace,
        records_running: bool = True,
        failed_limit: int = FAILED_LIMIT,
        failed_retention: float = FAILED_RETENTION.total_seconds(),
        dead_limit: int = DEAD_LETTER_LIMIT,
    ) -> None:
        super().__init__(
            backend, keys, records_running, failed_limit, failed_retention, dead_limit
        )
        self.queue = QueueStore(self)
        self.runs = RunStore(self, self.queue)
        self.results = ResultStore(self)
        self.pauses = PauseStore(self, self.queue)
        self.sweep = SweepStore(self)
        self.events = EventStore(self)
        self.workers = WorkerStore(self)
        self.admission = AdmissionStore(self)
        self.views = ViewStore(self)
        self.strikes = StrikeStore(self)
        self.signals = SignalStore(self)
        self.dead = DeadStore(self)
        self.failed = FailedStore(self)
        self.stats = StatsStore(self)
        self.gates = GateStore(self)
        self.steps = StepStore(self)
        self.mailbox = MailboxStore(self)
        self.lanes = LaneStore(self)
        self.fair = FairStore(self)

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
        await self.runs.claim(worker, "", [])
        await self.runs.settle([], 0)


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
