"""``docket dashboard`` processes on 127.0.0.1 for the dashboard's trust tests:
the real command, its real HTTP server, a real redis-server behind it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests._support import ROOT
from tests._support.cli import http_get, wait_until

# One dashboard: its extra arguments and DOCKET_DASHBOARD_* variables.
Config = tuple[Sequence[str], dict[str, str]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def dashboard_processes(
    url: str, docket_name: str, folder: Path, configs: Sequence[Config]
) -> Iterator[list[str]]:
    """One ``docket dashboard --url URL --docket NAME --port P *args`` per
    config, started together and running until the block ends (each stopped by
    its pid); yields their ``http://127.0.0.1:P``. ``DOCKET_DASHBOARD_*``
    variables come only from the configs."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("DOCKET_DASHBOARD_")
    }
    started: list[tuple[subprocess.Popen[bytes], int, Path]] = []
    try:
        for number, (args, env) in enumerate(configs):
            port = free_port()
            command = [sys.executable, "-m", "docket", "dashboard", "--url", url]
            command += ["--docket", docket_name, "--port", str(port), *args]
            log = folder / f"dashboard-{number}-{port}.log"
            with open(log, "wb") as output:
                process = subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env={**inherited, "PYTHONPATH": str(ROOT), **env},
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            started.append((process, port, log))
        for process, port, log in started:
            wait_until(lambda p=process, n=port: _up_or_gone(p, n), timeout=30)
            assert process.poll() is None, log.read_text()
        yield [f"http://127.0.0.1:{port}" for _, port, _ in started]
    finally:
        for process, _, _ in started:
            process.terminate()
        for process, _, _ in started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _up_or_gone(process: subprocess.Popen[bytes], port: int) -> bool:
    return process.poll() is not None or http_get(port, "/login") is not None


@contextmanager
def dashboard_process(
    url: str,
    docket_name: str,
    log_folder: Path,
    *args: str,
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    """One ``docket dashboard`` (see ``dashboard_processes``); its base URL."""
    with dashboard_processes(url, docket_name, log_folder, [(args, env or {})]) as (
        base,
    ):
        yield base
