"""Worker subprocesses for the multi-process tests (see run_worker.py)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests._support import ROOT


def worker_process(
    url: str,
    name: str,
    worker_name: str,
    redelivery_ms: int = 300_000,
    tasks: str = "tests._support.process_tasks:tasks",
) -> subprocess.Popen[bytes]:
    """Start a worker process on docket ``name`` that registers ``tasks``."""
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
    )
