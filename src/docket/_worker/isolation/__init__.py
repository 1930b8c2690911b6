"""Isolated tasks: the pools of spawned child processes a worker session owns.

A task declaring ``Isolated()`` has its dependencies resolved in the worker as
usual; its body then runs in a child process of a pool (``process.py`` is one
child, ``pool.py`` a pool, ``child.py`` the child's own side, ``wire.py`` the
frames between them, ``calls.py`` one call). The worker keeps the lease,
progress and settlement; the child only runs the function, so a child that
never yields, crashes or runs out of memory is killed or replaced while every
other task goes on.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from uncalled_for import get_annotation_dependencies, get_dependency_parameters

from ... import instrumentation as m
from ...dependencies._isolated import Isolated
from ...docket import Docket
from .calls import run_isolated
from .pool import Pool
from .process import ChildDied, ChildTraceback

logger = logging.getLogger("docket.worker")

DEFAULT_POOL = "default"


__all__ = [
    "ChildDied",
    "ChildTraceback",
    "Isolation",
    "close_pools",
    "pools_of",
    "run_isolated",
]


class Isolation:
    """The pools of one worker session, by name (``default`` for ``Isolated()``)."""

    def __init__(self, worker: Any, docket: Docket) -> None:
        self.worker = worker
        self.docket = docket
        self.pools: dict[str, Pool] = {}
        self.restarts: dict[str, int] = {}  # by cause, for the tests and snapshot
        self.timeouts = 0
        self.labels: dict[str, str] = worker.labels()

    def _size(self, name: str) -> int | None:
        if name == DEFAULT_POOL:
            return default_size(self.worker)
        return dict(self.worker.pools).get(name)

    def pool_for(self, isolated: Isolated) -> Pool:
        name = isolated.pool or DEFAULT_POOL
        pool = self.pools.get(name)
        if pool is None:
            size = self._size(name)
            if size is None:
                raise LookupError(
                    f"This worker has no isolated pool {name!r}: start it with "
                    f"--pool {name}=N (or Worker(pools={{{name!r}: N}}))"
                )
            pool = self.pools[name] = Pool(
                name,
                size,
                self.worker.max_tasks_per_child,
                self.docket.name,
                self.docket.codec.signing,
                self.observe,
            )
            pool.fill()
        return pool

    def observe(self, pool: str, event: str) -> None:
        labels = {**self.labels, "docket.pool": pool}
        if event == "started":
            m.ISOLATED_CHILDREN.add(1, labels)
        elif event == "gone":
            m.ISOLATED_CHILDREN.add(-1, labels)
        elif event == "timeout":
            self.timeouts += 1
            m.ISOLATED_TIMEOUTS.add(1, labels)
        elif event.startswith("restart:"):
            cause = event.split(":", 1)[1]
            self.restarts[cause] = self.restarts.get(cause, 0) + 1
            m.ISOLATED_RESTARTS.add(1, {**labels, "cause": cause})

    @property
    def alive(self) -> int:
        return sum(pool.alive for pool in self.pools.values())

    def start_ahead(self) -> None:
        """Start the pools registered tasks use, and every pool named explicitly."""
        wanted: dict[str, Isolated] = {}
        for function in list(self.docket.tasks.values()):
            for isolated in _isolated_of(function):
                wanted.setdefault(isolated.pool or DEFAULT_POOL, isolated)
        for name in dict(self.worker.pools):
            wanted.setdefault(name, Isolated(pool=name))
        if self.worker.isolated_processes:
            wanted.setdefault(DEFAULT_POOL, Isolated())
        for isolated in wanted.values():
            try:
                self.pool_for(isolated)
            except LookupError as error:
                logger.warning("%s", error)

    async def close(self, graceful: bool) -> None:
        for pool in list(self.pools.values()):
            await pool.close(graceful)


def default_size(worker: Any) -> int:
    """The default pool's size: ``isolated_processes``, else one child per CPU
    (at most the worker's concurrency)."""
    if worker.isolated_processes:
        return int(worker.isolated_processes)
    return max(1, min(os.cpu_count() or 1, worker.concurrency))


def _isolated_of(function: Any) -> list[Isolated]:
    found: list[Isolated] = []
    try:
        values = list(get_dependency_parameters(function).values())
        for group in get_annotation_dependencies(function).values():
            values.extend(group)
    except Exception:  # pragma: no cover - a task uncalled-for cannot read
        return found
    return [value for value in values if isinstance(value, Isolated)]


def pools_of(worker: Any, docket: Docket) -> Isolation:
    """The worker's pools (made by its first session, kept across sessions and
    closed when the worker's context ends), started ahead of need."""
    pools = worker.isolation
    if pools is None:
        pools = worker.isolation = Isolation(worker, docket)
    pools.start_ahead()
    return pools


async def close_pools(worker: Any, graceful: bool) -> None:
    """Stop the worker's children: idle ones exit (killed after a grace, or at
    once when not ``graceful``); by now no task runs in them."""
    pools, worker.isolation = worker.isolation, None
    if pools is not None:
        await pools.close(graceful)
