"""The production page's worker configuration, as users copy it: its environment
block and its command lines (with ``100ms``, ``250ms`` and lower-case levels)."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from docket import Docket, Worker
from docket.cli import _logging as docket_logging
from docket.cli import app
from tests._support.cli import WorkerProcess, http_get
from tests._support.servers import RedisServer, free_port
from tests.conftest import eventually

pytestmark = pytest.mark.usefixtures("restore_logging")
runner = CliRunner()

SEED_ENVIRONMENT = {
    "DOCKET_NAME": "orders",
    "DOCKET_URL": "redis://redis.production.com:6379/0",
    "DOCKET_WORKER_NAME": "orders-worker-1",
    "DOCKET_WORKER_CONCURRENCY": "50",
    "DOCKET_WORKER_REDELIVERY_TIMEOUT": "10m",
    "DOCKET_WORKER_RECONNECTION_DELAY": "5s",
    "DOCKET_WORKER_MINIMUM_CHECK_INTERVAL": "100ms",
    "DOCKET_WORKER_SCHEDULING_RESOLUTION": "250ms",
    "DOCKET_WORKER_HEALTHCHECK_PORT": "8080",
    "DOCKET_WORKER_METRICS_PORT": "9090",
    "DOCKET_LOGGING_LEVEL": "INFO",
    "DOCKET_LOGGING_FORMAT": "json",
    "DOCKET_TASKS": "myapp.tasks:production_tasks",
}


@pytest.fixture
def myapp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A ``myapp.tasks`` module in the working directory, as on the page."""
    package = tmp_path / "myapp"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "tasks.py").write_text(
        "async def process_order(order_id: int) -> None: ...\n"
        "production_tasks = [process_order]\n"
        "all_tasks = production_tasks\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".")])
    yield tmp_path
    for name in [n for n in sys.modules if n == "myapp" or n.startswith("myapp.")]:
        del sys.modules[name]


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What ``docket worker`` passes to ``Worker.run`` (which is not run)."""
    calls: list[dict[str, Any]] = []

    async def fake_run(**kwargs: Any) -> None:
        calls.append(kwargs)

    monkeypatch.setattr(Worker, "run", fake_run)
    return calls


def test_every_variable_of_the_environment_block_is_honoured(
    myapp: Path, runs: list[dict[str, Any]]
):
    """Each variable of the page's block reaches the worker, parsed."""
    result = runner.invoke(app, ["worker"], env=SEED_ENVIRONMENT)
    assert result.exit_code == 0, result.output
    (call,) = runs
    assert call["docket_name"] == "orders"
    assert call["url"] == "redis://redis.production.com:6379/0"
    assert call["name"] == "orders-worker-1"
    assert call["concurrency"] == 50
    assert call["redelivery_timeout"] == timedelta(minutes=10)
    assert call["reconnection_delay"] == timedelta(seconds=5)
    assert call["minimum_check_interval"] == timedelta(milliseconds=100)
    assert call["scheduling_resolution"] == timedelta(milliseconds=250)
    assert call["healthcheck_port"] == 8080
    assert call["metrics_port"] == 9090
    assert call["tasks"] == ["myapp.tasks:production_tasks"]
    (handler,) = docket_logging._installed
    assert type(handler.formatter.inner).__name__ == "JsonFormatter"  # type: ignore[union-attr]
    assert logging.getLogger().level == logging.INFO


def test_the_production_command_line_works_as_written(
    myapp: Path, runs: list[dict[str, Any]]
):
    """The page's full ``docket worker`` command parses to what it says."""
    result = runner.invoke(
        app,
        [
            "worker",
            "--docket",
            "orders",
            "--url",
            "redis://redis.prod.com:6379/0",
            "--name",
            "orders-worker-1",
            "--concurrency",
            "50",
            "--redelivery-timeout",
            "10m",
            "--healthcheck-port",
            "8080",
            "--metrics-port",
            "9090",
            "--logging-format",
            "json",
            "--tasks",
            "myapp.tasks:production_tasks",
        ],
    )
    assert result.exit_code == 0, result.output
    basic = runner.invoke(app, ["worker", "--tasks", "myapp.tasks:all_tasks"])
    assert basic.exit_code == 0, basic.output
    first, second = runs
    assert first["docket_name"] == "orders" and first["concurrency"] == 50
    assert first["redelivery_timeout"] == timedelta(minutes=10)
    assert second["tasks"] == ["myapp.tasks:all_tasks"]


@pytest.mark.parametrize(
    "args, level, formatter",
    [
        (["--logging-format", "json", "--logging-level", "info"], "INFO", "Json"),
        (
            ["--logging-format", "plain", "--logging-level", "warning"],
            "WARNING",
            "Terminal",
        ),
    ],
)
def test_the_logging_examples_work_in_lower_case(
    runs: list[dict[str, Any]], args: list[str], level: str, formatter: str
):
    """``--logging-level info`` and ``warning`` are accepted (any case)."""
    result = runner.invoke(app, ["worker", *args])
    assert result.exit_code == 0, result.output
    root = logging.getLogger()
    assert logging.getLevelName(root.level) == level
    (handler,) = docket_logging._installed
    name = type(handler.formatter.inner).__name__  # type: ignore[union-attr]
    assert name == f"{formatter or ''}Formatter"


@pytest.mark.slow
async def test_a_worker_configured_only_by_environment(
    redis_server: RedisServer, docket_name: str, tmp_path: Path
):
    """A real ``docket worker`` with no flags takes its settings from DOCKET_*."""
    health, metrics = free_port(), free_port()
    environment = {
        **SEED_ENVIRONMENT,
        "DOCKET_NAME": docket_name,
        "DOCKET_URL": redis_server.url,
        "DOCKET_WORKER_HEALTHCHECK_PORT": str(health),
        "DOCKET_WORKER_METRICS_PORT": str(metrics),
        "DOCKET_WORKER_HTTP_HOST": "127.0.0.1",
        "DOCKET_TASKS": "tests._support.cli_tasks:tasks",
    }
    worker = WorkerProcess([], environment, tmp_path / "worker.log")
    try:
        async with Docket(name=docket_name, url=redis_server.url) as docket:

            async def listed() -> Any:
                return await docket.task_workers("greet")

            (info,) = await eventually(listed, timeout=20)
            assert info.name == "orders-worker-1"

            async def healthy() -> bool:  # the beat lands, then its reply comes
                return await asyncio.to_thread(http_get, health) == (200, "OK")

            await eventually(healthy, timeout=10)
            metrics_answer = await asyncio.to_thread(http_get, metrics, "/metrics")
            assert metrics_answer is not None and metrics_answer[0] == 200
        worker.signal(signal.SIGTERM)
        assert await asyncio.to_thread(worker.wait) == 0
    finally:
        worker.close()
    records = [json.loads(line) for line in worker.output().splitlines()]
    assert records and all(r["levelname"] != "DEBUG" for r in records)
    assert records[0]["docket.worker"] == "orders-worker-1"
