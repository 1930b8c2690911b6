"""Helpers shared across the test folders: redis-server, Cluster and Sentinel
launchers, worker-subprocess runners, and the task modules that worker
subprocesses import by dotted name (``tests._support.cli_tasks:tasks``)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository root (the subprocesses' working directory and PYTHONPATH)."""
