"""Helpers for the CLI tests: a worker in a thread, a ``docket worker`` process,
and plain HTTP GETs to 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import Future
from datetime import timedelta
from pathlib import Path
from typing import Any

from docket import Docket, Worker
from tests._support import ROOT


def wait_until(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll ``condition()`` until it is truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.02)


def http_get(port: int, path: str = "/") -> tuple[int, str] | None:
    """(status, body) of GET http://127.0.0.1:port/path, None when nothing answers."""
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        body = error.read().decode()
        error.close()
        return error.code, body
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


class ThreadWorker:
    """A Worker running ``run_forever`` in its own thread and event loop."""

    def __init__(self, url: str, name: str, worker_name: str = "thread-worker"):
        self.url, self.name, self.worker_name = url, name, worker_name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._worker: Worker | None = None
        self._ready = threading.Event()
        self._done: Future[None] = Future()
        self._thread = threading.Thread(target=self._main, daemon=True)

    def __enter__(self) -> ThreadWorker:
        self._thread.start()
        assert self._ready.wait(10), "the thread worker did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._worker is not None:
            self._loop.call_soon_threadsafe(self._worker.stop, False)
        self._thread.join(10)
        self._done.result(timeout=1)

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
            self._done.set_result(None)
        except BaseException as error:  # reported by __exit__
            self._done.set_exception(error)
            self._ready.set()

    async def _run(self) -> None:
        async with Docket(name=self.name, url=self.url) as docket:
            docket.register_collection("tests._support.cli_tasks:tasks")
            async with Worker(
                docket,
                name=self.worker_name,
                minimum_check_interval=timedelta(milliseconds=10),
                scheduling_resolution=timedelta(milliseconds=10),
            ) as worker:
                self._loop, self._worker = asyncio.get_running_loop(), worker
                self._ready.set()
                try:
                    await worker.run_forever()
                except asyncio.CancelledError:
                    pass


class WorkerProcess:
    """``python -m docket worker ...`` with its output in a file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log_path = log
        self._log = open(log, "wb")  # noqa: SIM115 (closed by close())
        environment = {**os.environ, "PYTHONPATH": str(ROOT), **env}
        environment.pop("COLUMNS", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "docket", "worker", *args],
            cwd=ROOT,
            env=environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, sig: signal.Signals = signal.SIGTERM) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float = 20) -> int:
        return self.process.wait(timeout=timeout)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self._log.close()
