"""A ``docket dashboard`` process on 127.0.0.1 for the dashboard's trust tests:
the real command, its real HTTP server, a real redis-server behind it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests._support import ROOT
from tests._support.cli import http_get, wait_until


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def dashboard_process(
    url: str,
    docket_name: str,
    log: Path,
    *args: str,
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    """``docket dashboard --url URL --docket NAME --port P *args`` running until
    the block ends (stopped by its pid); yields ``http://127.0.0.1:P``.
    ``DOCKET_DASHBOARD_*`` variables come only from ``env``."""
    port = free_port()
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("DOCKET_DASHBOARD_")
    }
    environment.update({"PYTHONPATH": str(ROOT), **(env or {})})
    command = [sys.executable, "-m", "docket", "dashboard", "--url", url]
    command += ["--docket", docket_name, "--port", str(port), *args]
    with open(log, "wb") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            wait_until(
                lambda: process.poll() is not None or http_get(port, "/login"),
                timeout=20,
            )
            assert process.poll() is None, log.read_text()
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
