"""The live stream and Redis outages: ``/failed`` and ``/dead`` stream their rows;
a stream says "trouble" within 2 s of Redis going away and streams again within
2 s of its return; a dashboard started with Redis down answers every page with
a 503 "Redis unreachable" page (JSON under /api/) and logs one line, never a
traceback; streams end promptly when the server stops (``docket dashboard``, and
``end_live_streams`` for a service that embeds the dashboard)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import cloudpickle  # type: ignore[import-untyped]
import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from docket import Docket, Worker
from docket.web import create_app, end_live_streams
from tests._support import ROOT
from tests._support.cli import http_get, wait_until
from tests._support.dashboard import free_port
from tests._support.servers import RedisServer

TASKS = "tests._support.console_tasks:tasks"


@contextmanager
def serving(app: Starlette) -> Iterator[str]:
    """``app`` served by uvicorn on 127.0.0.1 in a thread (streams need a real
    server); its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@asynccontextmanager
async def served(
    url: str, name: str
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """A dashboard of docket ``name`` at ``url``, served; it and a client."""
    app = create_app(Docket(name=name, url=url), token="")
    with serving(app) as base:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            yield app, client


async def events(stream: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    """(event name, data) of each server-sent event."""
    name = "message"
    async for line in stream.aiter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            yield name, json.loads(line[6:])
            name = "message"


async def next_of(
    stream: AsyncIterator[tuple[str, Any]], name: str, seconds: float
) -> tuple[float, Any]:
    """The next event called ``name`` (others skipped) and how long it took."""
    started = time.monotonic()
    while True:
        found, data = await asyncio.wait_for(anext(stream), seconds)
        if found == name:
            return time.monotonic() - started, data


async def prepare(docket: Docket) -> None:
    """A failure in the archive (key live-failure), a dead letter (live-dead)."""
    docket.register_collection(TASKS)
    await docket.add("fail_with", key="live-failure")("no")
    async with docket.redis() as client:
        await client.xadd(
            docket.stream_key,
            {
                b"key": b"live-dead",
                b"when": datetime.now().isoformat().encode(),  # no time zone
                b"function": b"quick",
                b"args": cloudpickle.dumps((1,)),
                b"kwargs": cloudpickle.dumps({}),
            },
        )
    async with Worker(docket) as worker:
        await worker.run_until_finished()


async def test_failed_and_dead_pages_are_live(
    redis_server: RedisServer, docket_name: str
):
    """The failed page's stream carries its rows (with its filters) and the dead
    page's its own: a new failure or dead letter shows without a reload."""
    async with Docket(name=docket_name, url=redis_server.url) as docket:
        await prepare(docket)
    async with served(redis_server.url, docket_name) as (_, client):
        path = "/api/events?page=failed&task=fail_with"
        async with client.stream("GET", path) as response:
            _, data = await next_of(events(response), "message", 5)
        assert 'data-task-key="live-failure"' in data["html"]["failed-rows"]
        path = "/api/events?page=failed&task=other"
        async with client.stream("GET", path) as response:
            _, data = await next_of(events(response), "message", 5)
        assert "No failed tasks match" in data["html"]["failed-rows"]
        async with client.stream("GET", "/api/events?page=dead") as response:
            _, data = await next_of(events(response), "message", 5)
        assert 'data-task-key="live-dead"' in data["html"]["dead-rows"]
        bad = await client.get("/api/events?page=failed&since=abc")
        assert bad.status_code == 400


async def test_a_dashboard_started_with_redis_down_says_so_once(
    caplog: pytest.LogCaptureFixture, docket_name: str
):
    """Every page is a 503 page naming the URL without its password (JSON under
    /api/, a trouble event on the stream); the log holds one WARNING for all of
    those requests and no traceback."""
    port = free_port()
    url = f"redis://:hunter2@127.0.0.1:{port}/0"
    caplog.set_level(logging.INFO, logger="docket.web")
    async with served(url, docket_name) as (_, client):
        for path in ("/", "/tasks", "/failed", "/dead", "/workers", "/tasks/k"):
            page = await client.get(path)
            assert page.status_code == 503, path
            assert f"Redis unreachable at redis://:***@127.0.0.1:{port}/0" in (
                page.text
            ), path
            assert "hunter2" not in page.text
        api = await client.get("/api/counts")
        assert api.status_code == 503
        assert api.json()["error"].startswith("Redis unreachable at")
        async with client.stream("GET", "/api/events?page=tasks") as response:
            found, text = await anext(events(response))
        assert found == "trouble" and "hunter2" not in text
    lines = [r for r in caplog.records if r.name.startswith("docket.web")]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert lines[0].levelno == logging.WARNING and lines[0].exc_info is None
    assert "hunter2" not in lines[0].getMessage()


async def test_the_stream_reports_an_outage_and_its_end_within_two_seconds(
    caplog: pytest.LogCaptureFixture, docket_name: str
):
    """Redis stopped under an open stream: a trouble event within 2 s; started
    again: updates within 2 s; one WARNING and one INFO line for the outage."""
    server = RedisServer().start()
    caplog.set_level(logging.INFO, logger="docket.web")
    try:
        async with served(server.url, docket_name) as (_, client):
            async with client.stream("GET", "/api/events?page=tasks") as response:
                stream = events(response)
                await next_of(stream, "message", 5)
                server.stop()
                took, _ = await next_of(stream, "trouble", 5)
                assert took < 2.0
                server.start()
                took, data = await next_of(stream, "message", 5)
                assert took < 2.0 and "counts" in data
    finally:
        server.close()
    lines = [r for r in caplog.records if r.name.startswith("docket.web")]
    assert [r.levelno for r in lines] == [logging.WARNING, logging.INFO]
    assert "back after" in lines[1].getMessage()


async def test_end_live_streams_ends_open_streams_at_once(
    redis_server: RedisServer, docket_name: str
):
    """A service embedding the dashboard calls ``end_live_streams(app)`` when it
    starts shutting down (from any thread): an open stream ends within a
    second."""
    async with served(redis_server.url, docket_name) as (app, client):
        async with client.stream("GET", "/api/events?page=overview") as response:
            stream = events(response)
            await next_of(stream, "message", 5)
            end_live_streams(app)
            started = time.monotonic()

            async def drain() -> None:
                async for _ in stream:
                    pass

            await asyncio.wait_for(drain(), 2)
            assert time.monotonic() - started < 1.0


def test_docket_dashboard_stops_promptly_with_a_tab_open(
    redis_server: RedisServer, docket_name: str, tmp_path: Path
):
    """``docket dashboard`` stopped (SIGTERM) while a browser's stream is open
    exits within a second, instead of waiting on the stream."""
    port = free_port()
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    environment.pop("DOCKET_DASHBOARD_TOKEN", None)
    command = [sys.executable, "-m", "docket", "dashboard", "--url", redis_server.url]
    command += ["--docket", docket_name, "--port", str(port)]
    with open(tmp_path / "dashboard.log", "wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_until(lambda: http_get(port, "/api/counts"), timeout=20)

        async def watch_and_stop() -> float:
            base = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=base, timeout=10) as client:
                async with client.stream("GET", "/api/events") as response:
                    await next_of(events(response), "message", 5)
                    process.send_signal(signal.SIGTERM)
                    started = time.monotonic()
                    await asyncio.to_thread(process.wait, 10)
                    return time.monotonic() - started

        assert asyncio.run(watch_and_stop()) < 1.0
        # uvicorn raises the signal again once it has stopped: -SIGTERM
        assert process.returncode in (0, -signal.SIGTERM)
        assert "Traceback" not in (tmp_path / "dashboard.log").read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
