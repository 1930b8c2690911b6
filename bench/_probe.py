"""The instruments of ``bench.py``'s phases: a ``Probe`` of the server's counters
(``INFO all`` on a connection of its own) and the measured ``Window`` of a phase
(wall time, client CPU and the server's counters between its start and stop).
"""

from __future__ import annotations

import time
from typing import Any

import redis.asyncio as aioredis


class Probe:
    """Reads Redis counters over its own connection, opened before any window."""

    def __init__(self, url: str) -> None:
        self.client = aioredis.Redis.from_url(url)

    async def snapshot(self) -> dict[str, Any]:
        """One ``INFO all`` call, reduced to the counters we use."""
        info = await self.client.info("all")
        calls = {
            key[len("cmdstat_") :]: int(value["calls"])
            for key, value in info.items()
            if key.startswith("cmdstat_")
        }
        return {
            "calls": calls,
            "reads": int(info.get("total_reads_processed", 0)),
            "cpu": float(info["used_cpu_user"]) + float(info["used_cpu_sys"]),
            "version": info.get("redis_version"),
        }

    @staticmethod
    def delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
        """Counters between two snapshots, minus the one INFO call in between.

        The first snapshot's INFO is counted after it ran (so it falls inside the
        window), the second's read event is counted before it ran (likewise).
        """
        calls = {
            name: count - before["calls"].get(name, 0)
            for name, count in after["calls"].items()
        }
        calls["info"] = calls.get("info", 1) - 1
        calls = {name: count for name, count in calls.items() if count}
        return {
            "calls": calls,
            "commands": sum(calls.values()),
            "reads": after["reads"] - before["reads"] - 1,
            "redis_cpu": after["cpu"] - before["cpu"],
        }

    async def cleanup(self, name: str) -> None:
        """Delete every key that mentions the (unique) docket name."""
        batch: list[bytes] = []
        async for key in self.client.scan_iter(match=f"*{name}*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                await self.client.unlink(*batch)
                batch = []
        if batch:
            await self.client.unlink(*batch)

    async def close(self) -> None:
        """Close the probe connection."""
        await self.client.aclose()


class Window:
    """Wall clock, process CPU and Redis counters around a block of work."""

    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self.seconds = 0.0
        self.cpu = 0.0
        self.redis: dict[str, Any] = {}

    async def __aenter__(self) -> Window:
        self._before = await self.probe.snapshot()
        self._cpu0 = time.process_time()
        self._t0 = time.perf_counter()
        self._stopped = False
        return self

    def stop(self) -> None:
        """Stop the clocks early (Redis counters still run until exit)."""
        if not self._stopped:
            self.seconds = time.perf_counter() - self._t0
            self.cpu = time.process_time() - self._cpu0
            self._stopped = True

    async def __aexit__(self, *exc: object) -> None:
        self.stop()
        self.redis = Probe.delta(self._before, await self.probe.snapshot())

    def result(self, done: int, measured: int | None = None) -> dict[str, Any]:
        """Rates and per-task costs; ``measured`` is the count at the clock stop."""
        measured = done if measured is None else measured
        per = max(done, 1)
        return {
            "completed": done,
            "seconds": round(self.seconds, 4),
            "rate": measured / self.seconds if self.seconds else None,
            "cmds_per_task": self.redis["commands"] / per,
            "reads_per_task": self.redis["reads"] / per,
            "cpu_us_per_task": self.cpu * 1e6 / max(measured, 1),
            "redis_cpu_us_per_task": self.redis["redis_cpu"] * 1e6 / per,
            "breakdown": {k: v / per for k, v in sorted(self.redis["calls"].items())},
        }
