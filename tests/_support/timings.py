"""Worker timings the tests share.

``FAST``: a worker that looks for work and moves due tasks every 5 ms, so a test
waits on its own condition rather than on the worker's default intervals
(``Worker(docket, **FAST)``). ``FAST_CLI``: the same for a ``docket worker``
process, as its options (10 ms: what the command line tests were written with).
Read-only, so no test can change another's timings."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType

FAST: Mapping[str, timedelta] = MappingProxyType(
    {
        "minimum_check_interval": timedelta(milliseconds=5),
        "scheduling_resolution": timedelta(milliseconds=5),
    }
)

FAST_CLI = ("--minimum-check-interval", "10ms", "--scheduling-resolution", "10ms")
