"""The key and channel names a Docket exposes (spec 2.2), read from its keyspace."""

from __future__ import annotations

from . import _defaults
from ._keys import Keyspace


class DocketNames:
    """Names of a docket's keys, read from its current keyspace."""

    name: str
    _keyspace: Keyspace

    @property
    def keyspace(self) -> Keyspace:
        """The names of this docket's keys and channels (hash-tagged on a cluster)."""
        return self._keyspace

    @property
    def worker_group_name(self) -> str:
        return _defaults.WORKER_GROUP

    @property
    def prefix(self) -> str:
        return self.keyspace.prefix

    def key(self, suffix: str) -> str:
        return self.keyspace.key(suffix)

    @property
    def queue_key(self) -> str:
        return self.keyspace.queue

    @property
    def stream_key(self) -> str:
        return self.keyspace.stream

    def runs_key(self, task_key: str) -> str:
        return self.keyspace.runs(task_key)

    def cancel_channel(self, task_key: str) -> str:
        return self.keyspace.cancel_channel(task_key)

    @property
    def results_collection(self) -> str:
        return self.keyspace.results

    def parked_task_key(self, task_key: str) -> str:
        return self.keyspace.parked(task_key)

    def known_task_key(self, task_key: str) -> str:
        return self.keyspace.known(task_key)

    def stream_id_key(self, task_key: str) -> str:
        return self.keyspace.stream_id(task_key)

    @property
    def redelivery_sweep_key(self) -> str:
        """The key of the fleet-wide redelivery lease (``P:leases:redelivery-sweep``)."""
        return self.keyspace.redelivery_sweep

    @property
    def workers_set(self) -> str:
        return self.keyspace.workers

    def worker_tasks_set(self, worker_name: str) -> str:
        return self.keyspace.worker_tasks(worker_name)

    def task_workers_set(self, task_name: str) -> str:
        return self.keyspace.task_workers(task_name)

    def labels(self) -> dict[str, str]:
        return {"docket.name": self.name}
