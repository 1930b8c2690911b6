"""The measured phases of ``bench.py``, run against whatever ``docket`` is importable.

Each phase uses its own docket name, so phases never see each other's keys, and
deletes that docket's keys when it is done (outside every measured window).
Redis counters come from ``INFO all`` on a separate probe connection:
``commandstats`` calls (Lua-internal commands included), ``total_reads_processed``
(client read events: a proxy for round trips) and the server's CPU time.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import random
import sys
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

from _probe import Probe as Probe
from _probe import Window as Window

COMPLETED = [0]
SINKS: dict[str, list[float]] = {}
SETUP_CHUNK = 50  # below redis-py 8's default pool of 100 connections


async def noop() -> None:
    """The benchmarked no-op task; it only counts itself, so capped runs know N."""
    COMPLETED[0] += 1


STARTS: dict[str, list[float]] = {}
BUCKETS_MS = [0.5, 1, 2, 3, 5, 10, 15, 20, 30, 50, 100, 200, 500, 1000]


async def stamp(added: float, sink: str) -> None:
    """Record how long after ``added`` (a ``time.time()``) this task started."""
    now = time.time()
    SINKS.setdefault(sink, []).append(now - added)
    STARTS.setdefault(sink, []).append(now)


def histogram(delays: list[float]) -> dict[str, int]:
    """How many delays fall under each bucket's upper edge (ms), and above all."""
    counts = {f"<={edge}": 0 for edge in BUCKETS_MS}
    counts[f">{BUCKETS_MS[-1]}"] = 0
    for delay in delays:
        ms = delay * 1e3
        label = next((f"<={e}" for e in BUCKETS_MS if ms <= e), f">{BUCKETS_MS[-1]}")
        counts[label] += 1
    return counts


def best_url(url: str, best: bool) -> str:
    """The URL with a large connection pool when ``best`` is set."""
    if not best or "max_connections=" in url:
        return url
    return url + ("&" if "?" in url else "?") + "max_connections=1000"


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values``."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-fraction * len(ordered) // 1))))
    return ordered[rank - 1]


class Bench:
    """Runs the phases for one implementation with the options of ``bench.py``."""

    def __init__(
        self,
        options: Any,
        probe: Probe,
        extra_phases: Callable[[Bench], list[tuple[str, Any]]] | None = None,
    ) -> None:
        import docket

        self.docket = docket
        self.o = options
        self.probe = probe
        self.extra_phases = extra_phases  # bench.py's isolated-task drains
        # --signing applies only where Docket takes signing keys (not the original).
        parameters = inspect.signature(docket.Docket).parameters
        self.signing = bool(options.signing) and "signing_keys" in parameters

    @contextlib.asynccontextmanager
    async def open(
        self, phase: str, best: bool, signed: bool = False
    ) -> AsyncIterator[Any]:
        """A fresh, entered Docket for one phase; its keys are deleted afterwards.

        With ``--signing`` every phase says explicitly whether it signs (keys off
        unless ``signed``), so the environment cannot blur the comparison."""
        name = f"bench-{phase}-{uuid4().hex[:10]}"
        kwargs: dict[str, Any] = {"name": name, "url": best_url(self.o.url, best)}
        if self.o.execution_ttl is not None:
            kwargs["execution_ttl"] = timedelta(seconds=self.o.execution_ttl)
        if self.signing:
            kwargs["signing_keys"] = [BENCH_KEY] if signed else []
        try:
            async with self.docket.Docket(**kwargs) as docket:
                yield docket
        finally:
            await self.probe.cleanup(name)

    def worker(self, docket: Any, concurrency: int, best: bool) -> Any:
        """A Worker with default settings, or with a 1 ms check interval."""
        extra: dict[str, Any] = {}
        if best:
            extra["minimum_check_interval"] = timedelta(milliseconds=1)
        return self.docket.Worker(docket, concurrency=concurrency, **extra)

    async def enqueue(
        self, phase: str, concurrent: bool, best: bool, signed: bool = False
    ) -> dict[str, Any]:
        """Add N no-op tasks, one await at a time or ``--chunk`` at a time."""
        n, chunk, cap = self.o.tasks, self.o.chunk, self.o.time_cap
        added = 0
        async with self.open(phase, best, signed) as docket:
            async with Window(self.probe) as window:
                deadline = time.perf_counter() + cap
                while added < n and time.perf_counter() < deadline:
                    if concurrent:
                        size = min(chunk, n - added)
                        await gather_all(docket, size)
                        added += size
                    else:
                        await docket.add(noop)()
                        added += 1
        return {**window.result(added), "requested": n, "capped": added < n}

    async def add_many(self, phase: str) -> dict[str, Any]:
        """Add N no-op tasks with ``add_many``, ``--chunk`` calls per batch (each
        batch is that many schedule calls, pipelined)."""
        n, chunk, cap = self.o.tasks, self.o.chunk, self.o.time_cap
        added = 0
        async with self.open(phase, False) as docket:
            async with Window(self.probe) as window:
                deadline = time.perf_counter() + cap
                while added < n and time.perf_counter() < deadline:
                    size = min(chunk, n - added)
                    calls = [docket.call(noop)() for _ in range(size)]
                    await docket.add_many(calls, chunk_size=chunk)
                    added += size
        return {**window.result(added), "requested": n, "capped": added < n}

    async def drain(
        self,
        phase: str,
        concurrency: int,
        best: bool,
        signed: bool = False,
        loader: Callable[[Any, int], Awaitable[None]] | None = None,
    ) -> dict[str, Any]:
        """Pre-load N tasks (``loader``, by default N no-ops), then time one
        in-process worker draining them."""
        n = self.o.drain_tasks
        async with self.open(phase, best, signed) as docket:
            await (loader or load)(docket, n)
            async with Window(self.probe) as window:
                async with self.worker(docket, concurrency, best) as worker:
                    measured, capped = await self.run_capped(worker, window)
        result = window.result(COMPLETED[0], measured)
        return {**result, "requested": n, "capped": capped, "measured": measured}

    async def run_capped(self, worker: Any, window: Window) -> tuple[int, bool]:
        """``worker.run_until_finished()`` for at most ``--time-cap`` seconds,
        counted from zero; stops ``window`` as it ends or at the cap. Returns the
        tasks completed inside the window and whether the cap cut it short."""
        COMPLETED[0] = 0
        run = asyncio.ensure_future(worker.run_until_finished())
        done, _ = await asyncio.wait({run}, timeout=self.o.time_cap)
        window.stop()
        measured = COMPLETED[0]
        if not done:
            run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
        return measured, not done

    async def drain_processes(
        self, phase: str, processes: int, concurrency: int
    ) -> dict[str, Any]:
        """Pre-load N tasks, then time ``processes`` worker processes (Worker
        defaults, ``concurrency`` each) draining them together. Their start-up is
        not timed: each signals it is ready, then all start at once. CPU is the
        workers' own, summed."""
        n = self.o.drain_tasks
        script = os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "_drain_worker.py"
        )
        async with self.open(phase, False) as docket:
            await load(docket, n)
            command = [
                sys.executable,
                script,
                "--url",
                self.o.url,
                "--name",
                docket.name,
            ]
            command += ["--concurrency", str(concurrency)]
            command += ["--time-cap", str(self.o.time_cap)]
            if self.o.execution_ttl is not None:
                command += ["--execution-ttl", str(self.o.execution_ttl)]
            children = [
                await asyncio.create_subprocess_exec(
                    *command,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                )
                for _ in range(processes)
            ]
            try:
                for child in children:
                    assert child.stdout is not None
                    line = await asyncio.wait_for(child.stdout.readline(), 60)
                    if line.strip() != b"ready":
                        raise RuntimeError(f"a worker process did not start: {line!r}")
                async with Window(self.probe) as window:
                    for child in children:
                        assert child.stdin is not None
                        child.stdin.write(b"go\n")
                        await child.stdin.drain()
                    # Each reports as soon as its drain ends; the window closes
                    # with the last report (their shutdown is not timed).
                    lines = await asyncio.wait_for(
                        asyncio.gather(*(report_line(child) for child in children)),
                        self.o.time_cap + 60,
                    )
                    window.stop()
                for child in children:
                    await asyncio.wait_for(child.communicate(), 60)
            finally:
                for child in children:
                    if child.returncode is None:
                        child.kill()
                        await child.wait()
        reports = [json.loads(line) for line in lines]
        done = sum(r["completed"] for r in reports)
        capped = any(r["capped"] for r in reports)
        window.cpu = sum(r["cpu"] for r in reports)
        if capped:  # the rate over the capped window, not the shutdown after it
            window.seconds = max(r["seconds"] for r in reports)
        result = window.result(done)
        spread = [r["completed"] for r in reports]
        return {**result, "requested": n, "capped": capped, "per_process": spread}

    async def _running(
        self, phase: str, best: bool, body: Callable[[Any], Awaitable[list[float]]]
    ) -> dict[str, Any]:
        """Run ``body`` while a warmed-up worker runs forever in the background."""
        async with self.open(phase, best) as docket:
            async with self.worker(docket, 10, best) as worker:
                background = asyncio.ensure_future(worker.run_forever())
                try:
                    await docket.add(stamp)(time.time(), f"{phase}-warm")
                    await wait_for_sink(f"{phase}-warm", 1, 30.0, background)
                    delays = await body(docket)
                finally:
                    background.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await background
        if not delays:
            raise RuntimeError("no task started")
        starts = STARTS.get(phase, [])
        first = min(starts) if starts else 0.0
        worst = sorted(zip(delays, starts, strict=False), reverse=True)[:10]
        return {
            "completed": len(delays),
            "p50_ms": percentile(delays, 0.50) * 1e3,
            "p99_ms": percentile(delays, 0.99) * 1e3,
            "max_ms": max(delays) * 1e3,
            "histogram": histogram(delays),
            # the slowest starts: (delay ms, seconds into the phase)
            "worst": [(round(d * 1e3, 2), round(t - first, 3)) for d, t in worst],
        }

    async def latency(self, phase: str, best: bool) -> dict[str, Any]:
        """Add-to-start latency at a light steady rate."""
        count, rate = self.o.latency_tasks, self.o.latency_rate

        async def body(docket: Any) -> list[float]:
            start = time.perf_counter()
            for i in range(count):
                await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
                await docket.add(stamp)(time.time(), phase)
            return await wait_for_sink(phase, count, 30.0)

        return {**await self._running(phase, best, body), "requested": count}

    async def scheduled(self, phase: str, best: bool) -> dict[str, Any]:
        """Start delay of tasks added at a steady rate, due 200-700 ms later."""
        count, rate, rng = self.o.sched_tasks, self.o.sched_rate, random.Random(7)

        async def body(docket: Any) -> list[float]:
            start = time.perf_counter()
            for i in range(count):
                await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
                when = datetime.now(timezone.utc) + timedelta(
                    seconds=rng.uniform(0.2, 0.7)
                )
                await docket.add(stamp, when=when)(when.timestamp(), phase)
            return await wait_for_sink(phase, count, 30.0)

        return {**await self._running(phase, best, body), "requested": count}

    def phases(self) -> list[tuple[str, Callable[[], Awaitable[dict[str, Any]]]]]:
        """Every phase as (id, thunk), in running order."""
        best = self.o.best_settings
        plan: list[tuple[str, Callable[[], Awaitable[dict[str, Any]]]]] = [
            ("enqueue_seq", lambda: self.enqueue("eseq", False, False)),
            ("enqueue_gather", lambda: self.enqueue("egat", True, False)),
        ]
        if best:
            plan.append(
                ("enqueue_gather_best", lambda: self.enqueue("egatb", True, True))
            )
        plan.append(("add_many", lambda: self.add_many("amany")))
        for tag, b in (("", False), ("_best", True)):
            for c in (10, 100):
                plan.append(
                    (f"drain_c{c}{tag}", lambda c=c, b=b: self.drain(f"d{c}", c, b))
                )
        c = self.o.process_concurrency
        for count in sorted({1, self.o.processes}):
            plan.append(
                (
                    f"drain_p{count}_c{c}",
                    lambda n=count: self.drain_processes(f"p{n}", n, c),
                )
            )
        if self.signing:  # keys on, right after the same phases with keys off
            plan += [
                (
                    "enqueue_gather_signed",
                    lambda: self.enqueue("egs", True, False, True),
                ),
                ("drain_c100_signed", lambda: self.drain("d100s", 100, False, True)),
            ]
        if self.extra_phases is not None and hasattr(self.docket, "Isolated"):
            plan += self.extra_phases(self)  # ours: the isolated-task drains
        for tag, b in (("", False), ("_best", True)) if best else (("", False),):
            plan.append(
                (f"latency{tag}", lambda b=b, t=tag: self.latency(f"lat{t}", b))
            )
            plan.append(
                (f"scheduled{tag}", lambda b=b, t=tag: self.scheduled(f"sch{t}", b))
            )
        return plan

    async def run(self, progress: Callable[[str], None]) -> dict[str, Any]:
        """Run the selected phases, capturing each failure as a traceback."""
        results: dict[str, Any] = {}
        for phase, thunk in self.phases():
            if self.o.only and phase not in self.o.only:
                continue
            progress(f"{phase} ...")
            started = time.perf_counter()
            try:
                results[phase] = await asyncio.wait_for(
                    thunk(), self.o.time_cap * 4 + 120
                )
            except Exception:
                results[phase] = {"error": traceback.format_exc()}
            took = time.perf_counter() - started
            status = "ERROR" if "error" in results[phase] else "ok"
            progress(f"{phase} {status} in {took:.1f}s")
        return results


BENCH_KEY = "bench-signing-key-0123456789abcdef"  # only for --signing phases


async def report_line(child: asyncio.subprocess.Process) -> bytes:
    """The JSON line a ``_drain_worker.py`` process prints when its drain ends."""
    assert child.stdout is not None
    while True:
        line = await child.stdout.readline()
        if not line:
            raise RuntimeError("a worker process ended without a report")
        if line.startswith(b"{"):
            return line


async def load(docket: Any, n: int) -> None:
    """Pre-load ``n`` no-op tasks (untimed), ``SETUP_CHUNK`` at a time."""
    for start in range(0, n, SETUP_CHUNK):
        await gather_all(docket, min(SETUP_CHUNK, n - start))


async def gather_all(docket: Any, size: int) -> None:
    """Add ``size`` no-op tasks concurrently; raise the first failure after all end."""
    outcomes = await asyncio.gather(
        *(docket.add(noop)() for _ in range(size)), return_exceptions=True
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


async def wait_for_sink(
    sink: str, count: int, timeout: float, guard: asyncio.Future[Any] | None = None
) -> list[float]:
    """Wait until ``count`` tasks recorded into ``sink`` (or time out)."""
    deadline = time.perf_counter() + timeout
    while len(SINKS.get(sink, [])) < count:
        if guard is not None and guard.done():
            guard.result()
            raise RuntimeError("the worker stopped before running the warm-up task")
        if time.perf_counter() > deadline:
            break
        await asyncio.sleep(0.005)
    return list(SINKS.get(sink, []))
