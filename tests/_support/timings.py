"""Worker timings the tests share.

``FAST``: a worker that looks for work and moves due tasks every 5 ms, so a test
waits on its own condition rather than on the worker's default intervals
(``Worker(docket, **FAST)``). ``FAST_CLI``: the same for a ``docket worker``
process, as its options (10 ms: what the command line tests were written with).
Read-only, so no test can change another's timings. ``fast_worker``: a Worker
with the FAST timings."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from docket import Docket, Worker

FAST: Mapping[str, timedelta] = MappingProxyType(
    {
        "minimum_check_interval": timedelta(milliseconds=5),
        "scheduling_resolution": timedelta(milliseconds=5),
    }
)

FAST_CLI = ("--minimum-check-interval", "10ms", "--scheduling-resolution", "10ms")


def fast_worker(docket: Docket, concurrency: int = 4, **options: Any) -> Worker:
    """A Worker with the FAST timings and ``concurrency`` slots (4 unless told:
    few enough that a backlog waits for them); ``options`` go to Worker as well."""
    return Worker(docket, concurrency=concurrency, **FAST, **options)
