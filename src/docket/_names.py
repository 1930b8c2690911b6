"""The key and channel names a Docket exposes (spec 2.2), read from its keyspace."""

from __future__ import annotations

from . import _defaults
from ._keys import Keyspace


class DocketNames:
    """Names of a docket's keys; ``_keys`` is the Docket's current keyspace."""

    name: str
    _keys: Keyspace

    @property
    def worker_group_name(self) -> str:
        return _defaults.WORKER_GROUP

    @property
    def prefix(self) -> str:
        return self._keys.prefix

    def key(self, suffix: str) -> str:
        return self._keys.key(suffix)

    @property
    def queue_key(self) -> str:
        return self._keys.queue

    @property
    def stream_key(self) -> str:
        return self._keys.stream

    def runs_key(self, key: str) -> str:
        return self._keys.runs(key)

    def cancel_channel(self, key: str) -> str:
        return self._keys.cancel_channel(key)

    @property
    def results_collection(self) -> str:
        return self._keys.results

    def parked_task_key(self, key: str) -> str:
        return self._keys.parked(key)

    def known_task_key(self, key: str) -> str:
        return self._keys.known(key)

    def stream_id_key(self, key: str) -> str:
        return self._keys.stream_id(key)

    @property
    def workers_set(self) -> str:
        return self._keys.workers

    def worker_tasks_set(self, worker_name: str) -> str:
        return self._keys.worker_tasks(worker_name)

    def task_workers_set(self, task_name: str) -> str:
        return self._keys.task_workers(task_name)

    def labels(self) -> dict[str, str]:
        return {"docket.name": self.name}
