"""Benchmark of workflows (``after=``, groups): what they cost and how fast a
fan-in releases its follower.

    .venv/bin/python bench/workflows.py [--url redis://...] [--calls 10000]
        [--members 10000]

Without ``--url`` it starts its own ``redis-server`` (no persistence) on a free
127.0.0.1 port and stops it by pid at the end. It prints:

- add_many of N plain calls vs N gated calls (each ``after=`` one parent that is
  still scheduled): seconds, ratio, Redis commands per call (INFO commandstats,
  commands inside scripts included);
- a group member's add vs a plain add: commands per add (sequential awaits);
- fan-in: a group of M members drained by one worker (concurrency 100); the
  follower's start minus the moment the last member's settlement was written
  (the latest member end, plus the settle it waits for: measured to the end of
  the last member's body, so the figure includes the settle batch's delay).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from bench import start_redis, stop_redis  # noqa: E402
from docket import Docket, Worker  # noqa: E402

ENDS: list[float] = []
STARTED: list[float] = []


async def member() -> None:
    ENDS.append(time.time())


async def follower() -> None:
    STARTED.append(time.time())


async def noop() -> None: ...


async def commands(docket: Docket) -> int:
    async with docket.redis() as redis:
        stats: Any = await redis.info("commandstats")
    return sum(int(v["calls"]) for v in stats.values()) + 1  # + this INFO


async def add_many_phase(url: str, calls: int) -> None:
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    results: dict[str, tuple[float, float]] = {}
    for label, gated in (("plain", False), ("gated", True)):
        async with Docket(name=f"wf-bench-{label}", url=url) as docket:
            await docket.add(noop, when=later, key="parent")()
            after = "parent" if gated else None
            batch = [docket.call(noop, after=after)() for _ in range(calls)]
            before = await commands(docket)
            begun = time.perf_counter()
            await docket.add_many(batch, chunk_size=1000)
            took = time.perf_counter() - begun
            used = (await commands(docket) - before - 1) / calls
            results[label] = (took, used)
            await docket.clear()
            async with docket.redis() as redis:
                keys = await redis.keys(f"{docket.keyspace.prefix}*")
                if keys:
                    await redis.delete(*keys)
    plain, gated = results["plain"], results["gated"]
    print(f"add_many of {calls:,} calls (chunks of 1000):")
    print(f"  plain  {plain[0]:.3f}s  {plain[1]:.2f} commands/call")
    print(f"  gated  {gated[0]:.3f}s  {gated[1]:.2f} commands/call")
    print(f"  gated / plain: {gated[0] / plain[0]:.2f}x")


async def member_add_phase(url: str, adds: int) -> None:
    async with Docket(name="wf-bench-members", url=url) as docket:
        before = await commands(docket)
        for _ in range(adds):
            await docket.add(noop)()
        plain = (await commands(docket) - before - 1) / adds
        before = await commands(docket)
        async with docket.group("g") as g:
            for _ in range(adds):
                await g.add(noop)()
        grouped = (await commands(docket) - before - 1) / adds
        await docket.clear()
    print(f"sequential add: plain {plain:.2f}, group member {grouped:.2f} commands/add")


async def fan_in_phase(url: str, members: int) -> None:
    ENDS.clear()
    STARTED.clear()
    async with Docket(name="wf-bench-fan-in", url=url) as docket:
        docket.register(member)
        docket.register(follower)
        async with docket.group("fan") as g:
            await g.add_many([docket.call(member)() for _ in range(members)])
        await docket.add(follower, after=g)()
        begun = time.perf_counter()
        async with Worker(docket, concurrency=100) as worker:
            await worker.run_until_finished()
        took = time.perf_counter() - begun
        await docket.clear()
    latency = (STARTED[0] - max(ENDS)) * 1000
    print(
        f"fan-in of {members:,} members: drained in {took:.2f}s, follower started "
        f"{latency:.1f} ms after the last member ended (ran {len(STARTED)} time)"
    )


async def main(o: argparse.Namespace) -> None:
    await add_many_phase(o.url, o.calls)
    await member_add_phase(o.url, o.adds)
    for _ in range(o.rounds):
        await fan_in_phase(o.url, o.members)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url")
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--adds", type=int, default=1_000)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    server = None
    if options.url is None:
        server, options.url = start_redis()
    try:
        asyncio.run(main(options))
    finally:
        if server is not None:
            stop_redis(server)
