"""``docket worker`` as a real process against a real redis-server: tasks run,
/metrics and the health check answer over HTTP, and signals drain or stop it."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from docket import Docket, ExecutionState
from tests._support import cli_tasks
from tests._support.cli import WorkerProcess, http_get
from tests._support.servers import RedisServer, free_port
from tests._support.timings import FAST_CLI
from tests.conftest import eventually

pytestmark = pytest.mark.slow


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[object]:
    started: list[WorkerProcess] = []

    def start(
        url: str, name: str, *args: str, env: dict[str, str] | None = None
    ) -> WorkerProcess:
        log = tmp_path / f"worker-{len(started)}.log"
        process = WorkerProcess(
            [
                "--url",
                url,
                "--docket",
                name,
                "--tasks",
                "tests._support.cli_tasks:tasks",
                "--logging-format",
                "plain",
                *FAST_CLI,
                *args,
            ],
            env or {},
            log,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.close()


async def healthy(port: int) -> bool:
    answer = await asyncio.to_thread(http_get, port)
    return answer == (200, "OK")


async def scrape(port: int) -> str:
    answer = await asyncio.to_thread(http_get, port, "/metrics")
    return answer[1] if answer and answer[0] == 200 else ""


async def list_length(docket: Docket, suffix: str) -> int:
    async with docket.redis() as client:
        return await client.llen(docket.key(suffix))


async def exited(process: WorkerProcess, timeout: float = 30) -> int:
    return await asyncio.to_thread(process.wait, timeout)


async def test_worker_runs_tasks_and_serves_metrics_and_health(
    redis_server: RedisServer, docket_name: str, spawn
):
    """Tasks run; /metrics shows every worker series with its labels; health is 200."""
    health, metrics = free_port(), free_port()
    worker = spawn(
        redis_server.url,
        docket_name,
        "--name",
        "metrics-worker",
        "--healthcheck-port",
        str(health),
        "--metrics-port",
        str(metrics),
        "--http-host",
        "127.0.0.1",
    )
    async with Docket(name=docket_name, url=redis_server.url) as docket:
        await eventually(lambda: healthy(health), timeout=20)
        await docket.strike(cli_tasks.block_loop)
        greeting = await docket.add(cli_tasks.greet)("metrics")
        flaky = await docket.add(cli_tasks.flaky)()
        broken = await docket.add(cli_tasks.broken)()
        await docket.add(cli_tasks.tick, key="ticker")()
        later = datetime.now(timezone.utc) + timedelta(hours=1)
        await docket.add(cli_tasks.greet, when=later)("later")
        assert await greeting.get_result(timeout=timedelta(seconds=10)) == (
            "Hello, metrics!"
        )
        assert await flaky.get_result(timeout=timedelta(seconds=10)) == (
            "second attempt"
        )
        with pytest.raises(ValueError):
            await broken.get_result(timeout=timedelta(seconds=10))
        labels = (
            f'docket_name="{docket_name}",docket_task="%s",'
            'docket_worker="metrics-worker"'
        )
        expected = [
            "docket_tasks_started_total{" + labels % "greet",
            "docket_tasks_succeeded_total{" + labels % "greet",
            "docket_tasks_completed_total{" + labels % "greet",
            "docket_tasks_failed_total{" + labels % "broken",
            "docket_tasks_retried_total{" + labels % "flaky",
            "docket_tasks_perpetuated_total{" + labels % "tick",
            "docket_tasks_running{" + labels % "greet",
            "docket_task_duration_seconds_bucket{" + labels % "greet",
            "docket_task_duration_seconds_count{" + labels % "greet",
            "docket_task_duration_seconds_sum{" + labels % "greet",
            "docket_task_punctuality_seconds_bucket{" + labels % "greet",
            "docket_task_punctuality_seconds_count{" + labels % "greet",
            f'docket_queue_depth{{docket_name="{docket_name}"',
            f'docket_schedule_depth{{docket_name="{docket_name}"',
            'docket_cache_size{cache="signature"',
            'docket_cache_size{cache="annotation"',
            f'docket_strikes_in_effect{{docket_name="{docket_name}"',
        ]

        missing = expected

        async def all_series() -> str:
            nonlocal missing
            text = await scrape(metrics)
            missing = [series for series in expected if series not in text]
            return "" if missing else text

        try:
            text = await eventually(all_series, timeout=15)
        except AssertionError:
            raise AssertionError(f"not in /metrics: {missing}") from None

        # Stop the perpetual chain (a strike is durable, unlike a cancel racing its
        # successor), so the only future task left is the one added for later.
        await docket.strike(cli_tasks.tick)

        async def one_scheduled() -> bool:
            prefix = f'docket_schedule_depth{{docket_name="{docket_name}"'
            for line in (await scrape(metrics)).splitlines():
                if line.startswith(prefix):
                    return float(line.rsplit(" ", 1)[1]) == 1.0
            return False

        await eventually(one_scheduled, timeout=10)  # set by the next heartbeat
        assert "# TYPE docket_tasks_running gauge" in text
        assert "# TYPE docket_task_duration_seconds histogram" in text
    worker.signal(signal.SIGTERM)
    assert await exited(worker) == 0
    log = worker.output()
    assert "Received SIGTERM, initiating graceful shutdown..." in log
    assert "↩" in log and "greet(...)" in log


async def test_sigterm_drains_in_flight_tasks_and_takes_no_new_work(
    redis_server: RedisServer, docket_name: str, spawn
):
    """SIGTERM: the running task finishes, nothing new starts, the process exits 0."""
    worker = spawn(redis_server.url, docket_name)
    async with Docket(name=docket_name, url=redis_server.url) as docket:
        running = await docket.add(cli_tasks.linger)(1.0)
        await eventually(lambda: list_length(docket, "test-started"), timeout=20)
        worker.signal(signal.SIGTERM)

        async def gone() -> bool:
            return not await docket.workers()

        await eventually(gone, timeout=10)  # deregistered: no longer claiming
        queued = await docket.add(cli_tasks.linger)(0)
        assert await exited(worker) == 0
        await running.sync()
        assert running.state is ExecutionState.COMPLETED
        assert await list_length(docket, "test-finished") == 1
        await queued.sync()
        assert queued.state is ExecutionState.QUEUED
    log = worker.output()
    assert "Received SIGTERM, initiating graceful shutdown..." in log
    assert "Shutdown requested, finishing 1 active tasks..." in log


async def test_sigint_is_graceful_too(
    redis_server: RedisServer, docket_name: str, spawn
):
    """SIGINT (Ctrl-C) drains like SIGTERM and exits 0."""
    worker = spawn(redis_server.url, docket_name)
    async with Docket(name=docket_name, url=redis_server.url) as docket:
        running = await docket.add(cli_tasks.linger)(0.5)
        await eventually(lambda: list_length(docket, "test-started"), timeout=20)
        worker.signal(signal.SIGINT)
        assert await exited(worker) == 0
        await running.sync()
        assert running.state is ExecutionState.COMPLETED
    assert "Received SIGINT, initiating graceful shutdown..." in worker.output()


async def test_second_signal_stops_at_once_and_the_task_is_redelivered(
    redis_server: RedisServer, docket_name: str, spawn
):
    """A second SIGTERM abandons the running task (exit 1); another worker reruns it."""
    worker = spawn(redis_server.url, docket_name, "--redelivery-timeout", "300ms")
    async with Docket(name=docket_name, url=redis_server.url) as docket:
        stuck = await docket.add(cli_tasks.linger)(60)
        await eventually(lambda: list_length(docket, "test-started"), timeout=20)
        worker.signal(signal.SIGTERM)
        await eventually(lambda: "graceful shutdown" in worker.output(), timeout=10)
        worker.signal(signal.SIGTERM)
        assert await exited(worker, timeout=10) == 1
        assert "Received SIGTERM again, stopping now" in worker.output()
        assert await list_length(docket, "test-finished") == 0
        spawn(redis_server.url, docket_name, "--redelivery-timeout", "300ms")
        assert await stuck.get_result(timeout=timedelta(seconds=20)) == stuck.key


async def test_shutdown_timeout_bounds_the_drain(
    redis_server: RedisServer, docket_name: str, spawn
):
    """With --shutdown-timeout the worker waits that long for running tasks, then stops."""
    worker = spawn(redis_server.url, docket_name, "--shutdown-timeout", "300ms")
    async with Docket(name=docket_name, url=redis_server.url) as docket:
        await docket.add(cli_tasks.linger)(60)
        await eventually(lambda: list_length(docket, "test-started"), timeout=20)
        worker.signal(signal.SIGTERM)
        assert await exited(worker, timeout=10) == 1
        assert await list_length(docket, "test-finished") == 0
    assert "Shutdown timeout of 0:00:00.300000 expired" in worker.output()


async def test_health_check_follows_the_redis_connection(docket_name: str, spawn):
    """Health is 200 while Redis answers, not 200 once it is gone, 200 again after."""
    server = RedisServer().start()
    try:
        health, metrics = free_port(), free_port()
        worker = spawn(
            server.url,
            docket_name,
            "--reconnection-delay",
            "100ms",
            "--healthcheck-port",
            str(health),
            "--metrics-port",
            str(metrics),
            "--http-host",
            "127.0.0.1",
        )
        await eventually(lambda: healthy(health), timeout=20)
        server.stop()

        async def unhealthy() -> bool:
            answer = await asyncio.to_thread(http_get, health)
            return answer is not None and answer[0] == 503

        await eventually(unhealthy, timeout=20)
        server.start()
        await eventually(lambda: healthy(health), timeout=30)

        async def disruptions() -> bool:
            return "docket_redis_disruptions_total{" in await scrape(metrics)

        await eventually(disruptions, timeout=10)
        async with Docket(name=docket_name, url=server.url) as docket:
            execution = await docket.add(cli_tasks.greet)("again")
            result = await execution.get_result(timeout=timedelta(seconds=10))
            assert result == "Hello, again!"
        worker.signal(signal.SIGTERM)
        assert await exited(worker) == 0
    finally:
        server.close()


async def test_health_check_fails_while_the_event_loop_is_blocked(
    redis_server: RedisServer, docket_name: str, spawn
):
    """A task that blocks the event loop makes the health check fail until it ends."""
    health = free_port()
    worker = spawn(
        redis_server.url,
        docket_name,
        "--healthcheck-port",
        str(health),
        "--http-host",
        "127.0.0.1",
    )
    async with Docket(name=docket_name, url=redis_server.url) as docket:
        await eventually(lambda: healthy(health), timeout=20)
        await docket.add(cli_tasks.block_loop)(8)

        async def unhealthy() -> bool:
            answer = await asyncio.to_thread(http_get, health)
            return answer == (503, "UNHEALTHY")

        await eventually(unhealthy, timeout=15)
        await eventually(lambda: healthy(health), timeout=15)
    worker.signal(signal.SIGTERM)
    assert await exited(worker) == 0


async def test_fallback_task_runs_unknown_tasks(
    redis_server: RedisServer, docket_name: str, spawn
):
    """``--fallback-task`` handles a task name the worker has not registered."""
    worker = spawn(
        redis_server.url,
        docket_name,
        "--fallback-task",
        "tests._support.cli_tasks:fallback",
    )
    async with Docket(name=docket_name, url=redis_server.url) as docket:
        docket.register(cli_tasks.greet, names=["mystery"])
        execution = await docket.add("mystery")("who?")
        result = await execution.get_result(timeout=timedelta(seconds=20))
        assert result == "fallback ran mystery"
    worker.signal(signal.SIGTERM)
    assert await exited(worker) == 0
