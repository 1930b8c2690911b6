"""The Broker: one docket's operations over one open backend."""

from __future__ import annotations

from typing import Any

from .._defaults import WORKER_GROUP
from .._keys import Keyspace
from .._redis import Backend
from .events import EventOps
from .queue import QueueOps
from .runs import RunOps
from .workers import WorkerOps


class Broker(QueueOps, RunOps, EventOps, WorkerOps):
    """Docket-level operations (schedule, claim, settle, cancel, read, ...)."""

    def __init__(self, backend: Backend, keys: Keyspace) -> None:
        self.backend = backend
        self.client: Any = backend.client
        self.keys = keys
        self.group = WORKER_GROUP
