"""Worker subprocesses for the multi-process tests (see run_worker.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import IO

from tests._support import ROOT


def worker_process(
    url: str,
    name: str,
    worker_name: str,
    redelivery_ms: int = 300_000,
    tasks: str = "tests._support.process_tasks:tasks",
    log: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a worker process on docket ``name`` that registers ``tasks``
    (its output into ``log`` when given)."""
    output = None if log is None else open(log, "wb")  # noqa: SIM115
    try:
        return _start(url, name, worker_name, redelivery_ms, tasks, output)
    finally:
        if output is not None:
            output.close()  # the worker holds its own copy


def _start(
    url: str,
    name: str,
    worker_name: str,
    redelivery_ms: int,
    tasks: str,
    output: IO[bytes] | None,
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests._support.run_worker",
            url,
            name,
            worker_name,
            str(redelivery_ms),
            tasks,
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
    )
