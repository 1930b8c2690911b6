"""One worker process of the ``drain_p*`` phases of ``bench.py``.

Started by the benchmark with the docket's URL and name: it registers the no-op
task, enters a ``Worker`` (defaults, ``--concurrency``), prints ``ready``, waits
for a line on stdin (the start signal, so that process start-up is not timed),
runs ``run_until_finished()`` (for at most ``--time-cap`` seconds) and prints one
JSON line as soon as that returns (before leaving the worker): tasks run, CPU
seconds, seconds, whether it was capped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import timedelta

from _measure import COMPLETED, noop


async def main(
    url: str, name: str, concurrency: int, ttl: float | None, cap: float
) -> None:
    import docket

    kwargs = {"name": name, "url": url}
    if ttl is not None:
        kwargs["execution_ttl"] = timedelta(seconds=ttl)
    async with docket.Docket(**kwargs) as d:  # type: ignore[arg-type]
        d.register(noop)
        async with docket.Worker(d, concurrency=concurrency) as worker:
            print("ready", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            cpu, started = time.process_time(), time.perf_counter()
            run = asyncio.ensure_future(worker.run_until_finished())
            done, _ = await asyncio.wait({run}, timeout=cap)
            seconds, measured = time.perf_counter() - started, COMPLETED[0]
            cpu = time.process_time() - cpu
            if not done:  # capped: stop where it is
                run.cancel()
                await asyncio.gather(run, return_exceptions=True)
            # Reported as soon as the drain ends: leaving the worker and the
            # docket, and the interpreter's exit, are not part of the drain.
            report = {"completed": measured, "cpu": cpu, "seconds": seconds}
            print(json.dumps({**report, "capped": not done}), flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--concurrency", type=int, default=10)
    p.add_argument("--execution-ttl", type=float)
    p.add_argument("--time-cap", type=float, default=60.0)
    o = p.parse_args()
    asyncio.run(main(o.url, o.name, o.concurrency, o.execution_ttl, o.time_cap))
