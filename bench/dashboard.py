"""Server time per dashboard page on a big docket.

Fills a docket on a local redis-server with ``--failed`` failed tasks (run by a
real worker, so the failed tasks hold real tracebacks), then ``--queued`` queued and
``--scheduled`` scheduled tasks (no worker running, so they stay), serves
``docket.web.create_app`` with uvicorn on 127.0.0.1, and requests every page and
API route ``--rounds`` times. The figure is the server's own time to the
response headers (the ``Server-Timing`` header), so the client's time does not
count. The live-update payload of each page is timed in-process too.

    python bench/dashboard.py                  # 100,000 queued, 10,000 failed
    python bench/dashboard.py --queued 20000 --failed 2000 --json
    python bench/dashboard.py --search-only    # searches over 5,000 signed 100 KB tasks

``--search-tasks`` (5,000) signed tasks with ``--search-bytes`` (100,000) of
arguments each fill two more dockets, one queued and one scheduled, and the
server time of ``/tasks?q=`` is measured on each: an exact key, a key part
matching nothing, a key prefix, and the task name (which matches them all).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import threading
import time
from datetime import timedelta

import httpx
import uvicorn

from bench import _free_port, start_redis, stop_redis
from docket import Docket, Worker
from docket._codec import now
from docket.web import create_app

PATHS = [
    "/",
    "/tasks",
    "/tasks?q=noop",
    "/tasks?q=job-99999",
    "/failed",
    "/failed?task=boom&error_type=ValueError",
    "/failed?error_type=KeyError",
    "/dead",
    "/workers",
    "/strikes",
    "/api/overview",
    "/api/tasks",
    "/api/failed",
    "/api/counts",
    "/api/throughput?minutes=60",
    "/api/throughput?minutes=1440",
]
LIVE = ["overview", "tasks", "failed", "workers"]


async def noop(number: int = 0) -> None:
    pass


async def boom(number: int = 0) -> None:
    raise ValueError(f"bench failure {number}")


async def fill(url: str, name: str, o: argparse.Namespace) -> None:
    async with Docket(name, url=url, execution_ttl=timedelta(0)) as docket:
        docket.register(noop)
        docket.register(boom)
        started = time.monotonic()
        await _add_many(docket, "boom", "fail", o.failed)
        async with Worker(docket, concurrency=100) as worker:
            await worker.run_until_finished()
        print(f"{o.failed:,} failed tasks in {time.monotonic() - started:.1f}s")
        started = time.monotonic()
        await _add_many(docket, "noop", "job", o.queued)
        later = now() + timedelta(hours=1)
        for start in range(0, o.scheduled, 1000):
            await asyncio.gather(
                *(
                    docket.add("noop", when=later, key=f"later-{i}")(i)
                    for i in range(start, min(start + 1000, o.scheduled))
                )
            )
        print(
            f"{o.queued:,} queued and {o.scheduled:,} scheduled tasks in "
            f"{time.monotonic() - started:.1f}s"
        )


async def _add_many(docket: Docket, task: str, prefix: str, count: int) -> None:
    for start in range(0, count, 1000):
        await asyncio.gather(
            *(
                docket.add(task, key=f"{prefix}-{i}")(i)
                for i in range(start, min(start + 1000, count))
            )
        )


def serve(
    url: str, name: str, keys: list[str] | None = None
) -> tuple[uvicorn.Server, threading.Thread, int]:
    port = _free_port()
    docket = Docket(name, url=url, signing_keys=keys)
    config = uvicorn.Config(
        create_app(docket, token=""), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    return server, thread, port


def measure_pages(port: int, rounds: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        for path in PATHS:
            client.get(path)  # warm up
            times: list[float] = []
            for _ in range(rounds):
                response = client.get(path)
                response.raise_for_status()
                timing = response.headers["server-timing"]
                times.append(float(timing.split("dur=")[1]))
            results[path] = summary(times)
    return results


async def measure_live(url: str, name: str, rounds: int) -> dict[str, dict[str, float]]:
    """The live-update payload of each page, built in-process (one SSE tick)."""
    from starlette.requests import Request

    from docket.web.routes.events import _live  # pyright: ignore[reportPrivateUsage]

    results: dict[str, dict[str, float]] = {}
    async with Docket(name, url=url) as docket:
        app = create_app(docket, token="")
        for page in LIVE:
            scope = {
                "type": "http",
                "method": "GET",
                "path": "/api/events",
                "query_string": f"page={page}".encode(),
                "headers": [],
                "app": app,
                "root_path": "",
            }
            times: list[float] = []
            for _ in range(rounds + 1):
                started = time.perf_counter()
                await _live(Request(scope), page)
                times.append((time.perf_counter() - started) * 1000)
            results[f"live tick: {page}"] = summary(times[1:])
    return results


SEARCH_KEY = "bench-search-signing-key-0123456789abcdef"


async def fill_signed(
    url: str, name: str, count: int, payload: int, scheduled: bool
) -> None:
    """``count`` signed tasks with ``payload`` bytes of arguments each, queued
    (in the stream) or scheduled an hour ahead (parked)."""
    blob = bytes(range(256)) * (payload // 256) + b"x" * (payload % 256)
    when = now() + timedelta(hours=1) if scheduled else None
    async with Docket(name, url=url, signing_keys=[SEARCH_KEY]) as docket:
        docket.register(noop)
        docket.register(carry)
        for start in range(0, count, 250):
            await asyncio.gather(
                *(
                    docket.add(carry, key=f"job-{i}", when=when)(blob)
                    for i in range(start, min(start + 250, count))
                )
            )


async def carry(blob: bytes = b"") -> None:
    pass


def measure_search(url: str, o: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Server time of ``/tasks?q=`` over ``--search-tasks`` signed tasks of
    ``--search-bytes`` each, all queued, then all scheduled."""
    results: dict[str, dict[str, float]] = {}
    last = f"job-{o.search_tasks - 1}"
    queries = [last, "no-such-key", "job-1", "carry"]
    for place in ("queued", "scheduled"):
        name = f"bench-search-{place}-{int(time.time())}"
        started = time.monotonic()
        asyncio.run(
            fill_signed(url, name, o.search_tasks, o.search_bytes, place == "scheduled")
        )
        print(
            f"{o.search_tasks:,} signed {place} tasks of {o.search_bytes:,} bytes "
            f"in {time.monotonic() - started:.1f}s"
        )
        server, thread, port = serve(url, name, [SEARCH_KEY])
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
                for query in queries:
                    c.get("/tasks", params={"q": query}).raise_for_status()
                    times: list[float] = []
                    for _ in range(o.rounds):
                        response = c.get("/tasks", params={"q": query})
                        response.raise_for_status()
                        timing = response.headers["server-timing"]
                        times.append(float(timing.split("dur=")[1]))
                    results[f"search {place}: q={query}"] = summary(times)
        finally:
            server.should_exit = True
            thread.join(10)
        asyncio.run(_drop(url, name))
    return results


async def _drop(url: str, name: str) -> None:
    """Frees the search dockets' memory (a gigabyte of payloads) before the
    next fill."""
    async with Docket(name, url=url, signing_keys=[SEARCH_KEY]) as docket:
        await docket.clear()


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "median_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 1),
        "max_ms": round(ordered[-1], 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", help="redis://HOST:PORT/DB; default: start a server")
    p.add_argument("--queued", type=int, default=100_000)
    p.add_argument("--scheduled", type=int, default=1_000)
    p.add_argument("--failed", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--search-tasks", type=int, default=5_000)
    p.add_argument("--search-bytes", type=int, default=100_000)
    p.add_argument("--search-only", action="store_true", help="only the searches")
    p.add_argument("--json", action="store_true", help="print JSON only")
    o = p.parse_args()
    proc, url = (None, o.url) if o.url else start_redis()
    name = f"bench-dashboard-{int(time.time())}"
    results: dict[str, dict[str, float]] = {}
    try:
        if not o.search_only:
            asyncio.run(fill(url, name, o))
            server, thread, port = serve(url, name)
            try:
                results.update(measure_pages(port, o.rounds))
            finally:
                server.should_exit = True
                thread.join(10)
            results.update(asyncio.run(measure_live(url, name, o.rounds)))
        if o.search_tasks:
            results.update(measure_search(url, o))
    finally:
        if proc is not None:
            stop_redis(proc)
    if o.json:
        print(json.dumps(results, indent=2))
        return
    print(f"\nserver time per request, {o.rounds} rounds each (ms)")
    print(f"{'page':45} {'median':>8} {'p95':>8} {'max':>8}")
    for path, figures in results.items():
        print(
            f"{path:45} {figures['median_ms']:>8} {figures['p95_ms']:>8} "
            f"{figures['max_ms']:>8}"
        )


if __name__ == "__main__":
    main()
