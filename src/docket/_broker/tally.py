"""Counts waiting to be written: (hash, field) -> count, for the per-minute
throughput hashes (``P:stats:<minute>``, fields ``<outcome>:<task>``) and the
ten-minute timing windows (``P:stats:window:<epoch>``, see ``timing``).

The counts ride along with the settle script at most once per flush interval, so
the success path costs no extra Redis command per task: a worker settling
thousands of tasks a second writes one HINCRBY per field it touched per second
(see settle.lua).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from .. import _codec
from .._defaults import TIMING_WINDOW
from .timing import bucket_of

OUTCOMES = ("completed", "failed", "retried")
WINDOW = int(TIMING_WINDOW.total_seconds())

# (hash suffix after "P:stats:", field) -> count
Counts = dict[tuple[str, str], int]


def minute_of(epoch: float) -> int:
    """The epoch seconds at which the minute holding ``epoch`` starts."""
    return int(epoch // 60) * 60


def window_of(epoch: float) -> int:
    """The epoch seconds at which the timing window holding ``epoch`` starts."""
    return int(epoch // WINDOW) * WINDOW


def merge(into: Counts, other: Counts) -> Counts:
    for bucket, count in other.items():
        into[bucket] = into.get(bucket, 0) + count
    return into


class Tally:
    """Counts not yet written, and when they were last handed over."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.counts: Counts = {}
        self._last = time.monotonic()

    @property
    def pending(self) -> bool:
        return bool(self.counts)

    def add(self, outcome: str, task: str, count: int = 1) -> None:
        """Count ``count`` tasks named ``task`` that ended ``outcome`` just now."""
        if outcome not in OUTCOMES:
            raise ValueError(f"Unknown outcome {outcome!r}; expected one of {OUTCOMES}")
        now = _codec.now().timestamp()
        name = f"{outcome}:{task}"
        for bucket in ((str(minute_of(now)), name), (f"window:{window_of(now)}", name)):
            self.counts[bucket] = self.counts.get(bucket, 0) + count

    def due(self) -> bool:
        return time.monotonic() - self._last >= self.interval

    def take(self) -> Counts:
        """Everything counted so far (the caller writes it, or gives it back)."""
        counts, self.counts = self.counts, {}
        self._last = time.monotonic()
        return counts

    def give_back(self, counts: Counts) -> None:
        """Counts whose write failed: they go out with the next one."""
        merge(self.counts, counts)


Timed = tuple[str, str, float | None, float | None]


def count_outcomes(items: Iterable[Timed]) -> Counts:
    """(state, task, runtime, queue wait) of settled executions, counted: the
    outcome per minute and per window, and the runtime and queue-wait buckets
    per window (None: not measured)."""
    now = _codec.now().timestamp()
    minute, window = str(minute_of(now)), f"window:{window_of(now)}"
    counts: Counts = {}
    for state, task, runtime, wait in items:
        if not task or state not in ("completed", "failed"):
            continue
        name = f"{state}:{task}"
        fields = [(minute, name), (window, name)]
        if runtime is not None:
            fields.append((window, f"runtime.{bucket_of(runtime)}:{task}"))
        if wait is not None:
            fields.append((window, f"wait.{bucket_of(wait)}:{task}"))
        for bucket in fields:
            counts[bucket] = counts.get(bucket, 0) + 1
    return counts
