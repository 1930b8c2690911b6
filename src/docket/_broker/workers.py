"""Worker heartbeats and the listings built from them."""

from __future__ import annotations

import time
from collections.abc import Collection

from .._defaults import MIN_KEY_TTL
from .store import Store


class WorkerStore(Store):
    async def heartbeat(
        self,
        worker: str,
        tasks: Collection[str],
        horizon_seconds: float,
        concurrency: int | None = None,
    ) -> None:
        """Announce ``worker`` (and the task names it serves) as alive now."""
        now = time.time()
        oldest = now - horizon_seconds
        k = self.keys
        pipe = self.backend.pipeline()
        pipe.zremrangebyscore(k.workers, 0, oldest)
        pipe.zadd(k.workers, {worker: now})
        for task in tasks:
            pipe.zremrangebyscore(k.task_workers(task), 0, oldest)
            pipe.zadd(k.task_workers(task), {worker: now})
        if tasks:
            pipe.sadd(k.worker_tasks(worker), *tasks)
        # Every roster lives one horizon past the last heartbeat written to it: while
        # any worker beats it stays, and once the last one is gone it expires (its
        # entries would all be past the horizon by then).
        ttl = max(int(horizon_seconds + 0.999), int(MIN_KEY_TTL.total_seconds()))
        pipe.expire(k.worker_tasks(worker), ttl)
        pipe.expire(k.workers, ttl)
        for task in tasks:
            pipe.expire(k.task_workers(task), ttl)
        if concurrency is not None:
            pipe.hset(k.worker_capacity, worker, str(concurrency))
            pipe.expire(k.worker_capacity, ttl)
        await pipe.execute()

    async def deregister(self, worker: str, tasks: Collection[str]) -> None:
        k = self.keys
        pipe = self.backend.pipeline()
        pipe.zrem(k.workers, worker)
        for task in tasks:
            pipe.zrem(k.task_workers(task), worker)
        pipe.delete(k.worker_tasks(worker))
        pipe.hdel(k.worker_capacity, worker)
        await pipe.execute()

    async def list(
        self, horizon_seconds: float, task: str | None = None
    ) -> list[tuple[str, float, set[str]]]:
        """(name, last heartbeat, task names) of workers seen within the horizon."""
        k = self.keys
        roster = k.workers if task is None else k.task_workers(task)
        oldest = time.time() - horizon_seconds
        await self.client.zremrangebyscore(roster, 0, oldest)
        entries = await self.client.zrange(roster, 0, -1, withscores=True)
        if not entries:
            return []
        # Names come from Redis: text that is not UTF-8 is shown, not fatal.
        names = [name.decode(errors="replace") for name, _ in entries]
        pipe = self.backend.pipeline()
        for name in names:
            pipe.smembers(k.worker_tasks(name))
        members = await pipe.execute()
        return [
            (name, float(score), {t.decode(errors="replace") for t in tasks})
            for name, (_, score), tasks in zip(names, entries, members, strict=True)
        ]

    async def take_perpetual_lock(self, owner: str, timeout_ms: int) -> bool:
        """Take the lock that lets one worker at a time seed automatic perpetual
        tasks; it expires by itself after ``timeout_ms``."""
        return bool(
            await self.client.set(
                self.keys.perpetual_lock, owner, nx=True, px=timeout_ms
            )
        )

    async def release_perpetual_lock(self) -> None:
        await self.client.delete(self.keys.perpetual_lock)
