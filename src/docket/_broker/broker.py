"""The Broker: one docket's operations over one open backend."""

from __future__ import annotations

from typing import Any

from .._defaults import WORKER_GROUP
from .._keys import Keyspace
from .._redis import Backend
from .admission import AdmissionOps
from .batch import BatchOps
from .batcher import Batcher
from .events import EventOps
from .inspection import InspectionOps
from .queue import QueueOps
from .results import ResultOps
from .runs import RunOps
from .strikes import StrikeOps
from .workers import WorkerOps


class Broker(
    BatchOps,
    QueueOps,
    RunOps,
    EventOps,
    WorkerOps,
    AdmissionOps,
    ResultOps,
    InspectionOps,
    StrikeOps,
):
    """Docket-level operations (schedule, claim, settle, cancel, read, ...)."""

    def __init__(
        self, backend: Backend, keys: Keyspace, records_running: bool = True
    ) -> None:
        self.backend = backend
        self.client: Any = backend.client
        self.keys = keys
        self.group = WORKER_GROUP
        self._records_running = records_running
        # Redis: concurrent script calls share pipelines. In-process: call directly.
        self.batcher = None if backend.is_memory else Batcher(backend.client)
