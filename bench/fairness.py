"""Benchmark of FairShare: what it costs and what it does.

    .venv/bin/python bench/fairness.py [--url redis://...] [--tasks 5000]

Without ``--url`` it starts its own ``redis-server`` (no persistence) on a free
127.0.0.1 port and stops it by pid at the end. It prints:

- drain at c=100 (one in-process worker, defaults) of N no-op tasks: plain, and
  with a FairShare parameter spread over 100 tenants, ``--rounds`` alternating pairs;
  median tasks/s, Redis commands per task (INFO commandstats, commands inside scripts
  included), and the ratio;
- a small tenant's batch (20 tasks of 10 ms) added behind a large tenant's 1,000,
  worker at c=10: seconds from the small batch's add until its last task ends,
  with and without FairShare;
- Jain's fairness index of the slots per tenant over the first 1,000 starts, five
  tenants with skewed backlogs (2,000 / 1,000 / 500 / 400 / 400, added one tenant
  after another), with and without FairShare (1.0: equal shares; 0.2: one tenant
  holds every slot).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

sys.path.insert(0, str(Path(__file__).parent))

from bench import start_redis, stop_redis  # noqa: E402
from docket import Docket, FairShare, Worker  # noqa: E402

STARTS: list[str] = []
ENDS: dict[str, list[float]] = {}


async def plain(tenant: str) -> None: ...


async def fair(tenant: Annotated[str, FairShare()]) -> None: ...


async def plain_work(tenant: str, seconds: float = 0.0) -> None:
    STARTS.append(tenant)
    await asyncio.sleep(seconds)
    ENDS.setdefault(tenant, []).append(time.monotonic())


async def fair_work(tenant: Annotated[str, FairShare()], seconds: float = 0.0) -> None:
    STARTS.append(tenant)
    await asyncio.sleep(seconds)
    ENDS.setdefault(tenant, []).append(time.monotonic())


async def commands(docket: Docket) -> int:
    async with docket.redis() as redis:
        stats: Any = await redis.info("commandstats")
    return sum(int(v["calls"]) for v in stats.values()) + 1  # + this INFO


async def wipe(docket: Docket) -> None:
    async with docket.redis() as redis:
        keys = await redis.keys(f"{docket.keyspace.prefix}*")
        if keys:
            await redis.delete(*keys)


async def drain_phase(url: str, tasks: int, rounds: int) -> None:
    results: dict[str, list[tuple[float, float]]] = {"plain": [], "fair": []}
    for _ in range(rounds):  # alternating, so the machine's load hits both alike
        for label, function in (("plain", plain), ("fair", fair)):
            async with Docket(name=f"fair-bench-{label}", url=url) as docket:
                docket.register(function)
                await docket.add_many(
                    [docket.call(function)(f"t{n % 100}") for n in range(tasks)]
                )
                before = await commands(docket)
                async with Worker(docket, concurrency=100) as worker:
                    begun = time.perf_counter()
                    await worker.run_until_finished()
                    took = time.perf_counter() - begun
                used = (await commands(docket) - before - 1) / tasks
                results[label].append((tasks / took, used))
                await wipe(docket)
    p = statistics.median(r for r, _ in results["plain"])
    f = statistics.median(r for r, _ in results["fair"])
    print(
        f"drain c=100 of {tasks:,} no-op tasks (FairShare over 100 tenants), "
        f"median of {rounds} alternating rounds:"
    )
    for label, rate in (("plain", p), ("fair", f)):
        used = statistics.median(c for _, c in results[label])
        every = ", ".join(f"{r:,.0f}" for r, _ in results[label])
        print(
            f"  {label:<6} {rate:>9,.0f} tasks/s  {used:.2f} commands/task  ({every})"
        )
    print(f"  fair / plain: {f / p:.0%}")


async def small_batch_phase(url: str) -> None:
    print("small tenant's 20 tasks (10 ms) behind a large tenant's 1,000, c=10:")
    for label, function in (("FIFO", plain_work), ("FairShare", fair_work)):
        STARTS.clear()
        ENDS.clear()
        async with Docket(name=f"fair-bench-small-{label}", url=url) as docket:
            docket.register(function)
            async with Worker(docket, concurrency=10) as worker:
                running = asyncio.ensure_future(worker.run_forever())
                await docket.add_many(
                    [docket.call(function)("large", 0.01) for _ in range(1000)]
                )
                added = time.monotonic()
                await docket.add_many(
                    [docket.call(function)("small", 0.01) for _ in range(20)]
                )
                while len(ENDS.get("small", [])) < 20:
                    await asyncio.sleep(0.001)
                took = max(ENDS["small"]) - added
                worker.stop()
                await running
            await wipe(docket)
        print(f"  {label:<10} {took:.3f}s")


def jain(shares: list[int]) -> float:
    return sum(shares) ** 2 / (len(shares) * sum(s * s for s in shares))


async def jain_phase(url: str) -> None:
    backlogs = {"a": 2000, "b": 1000, "c": 500, "d": 400, "e": 400}
    print("Jain's index of slots per tenant, first 1,000 starts, skewed backlogs:")
    for label, function in (("FIFO", plain_work), ("FairShare", fair_work)):
        STARTS.clear()
        ENDS.clear()
        async with Docket(name=f"fair-bench-jain-{label}", url=url) as docket:
            docket.register(function)
            calls = [
                docket.call(function)(tenant)
                for tenant, count in backlogs.items()
                for _ in range(count)
            ]
            await docket.add_many(calls)
            async with Worker(docket, concurrency=20) as worker:
                await worker.run_until_finished()
            await wipe(docket)
        counted = Counter(STARTS[:1000])
        shares = [counted.get(tenant, 0) for tenant in backlogs]
        print(
            f"  {label:<10} {jain(shares):.3f}  {dict(zip(backlogs, shares, strict=True))}"
        )


async def main(url: str, tasks: int, rounds: int) -> None:
    await drain_phase(url, tasks, rounds)
    await small_batch_phase(url)
    await jain_phase(url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="redis://HOST:PORT/DB; default: start a server")
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5, help="drain pairs to run")
    options = parser.parse_args()
    server = None
    url = options.url
    if url is None:
        server, url = start_redis()
    try:
        asyncio.run(main(url, options.tasks, options.rounds))
    finally:
        if server is not None:
            stop_redis(server)
