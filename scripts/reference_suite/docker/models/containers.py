"""A redis-server process that answers like the container the fixtures expect."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from typing import Any


class Container:
    def __init__(
        self, process: subprocess.Popen[bytes], port: int, workdir: str
    ) -> None:
        self.process = process
        self.port = port
        self.workdir = workdir
        self.attrs: dict[str, Any] = {
            "HostConfig": {"PortBindings": {"6379/tcp": [{"HostPort": str(port)}]}},
            "Config": {"Env": []},
            "Created": "",
        }

    def stop(self, **_options: Any) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def remove(self, **_options: Any) -> None:
        self.stop()


def start_redis(port: int) -> Container:
    workdir = tempfile.mkdtemp(
        prefix="refsuite-redis-", dir=os.environ.get("REFSUITE_RUNDIR")
    )
    server = os.environ.get("REFSUITE_REDIS_SERVER", "redis-server")
    process = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    container = Container(process, port, workdir)
    atexit.register(container.stop)
    return container
