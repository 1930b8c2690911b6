"""Throughput counts waiting to be written: (minute, outcome, task) -> count.

The counts ride along with the settle script at most once per flush interval, so
the success path costs no extra Redis command per task: a worker settling
thousands of tasks a second writes one HINCRBY per task name and outcome per
second (see settle.lua).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from .. import _codec

OUTCOMES = ("completed", "failed", "retried")

Counts = dict[tuple[int, str, str], int]


def minute_of(epoch: float) -> int:
    """The epoch seconds at which the minute holding ``epoch`` starts."""
    return int(epoch // 60) * 60


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
        bucket = (minute_of(_codec.now().timestamp()), outcome, task)
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


def count_outcomes(items: Iterable[tuple[str, str]]) -> Counts:
    """(state, task) pairs of settled executions counted per minute bucket."""
    minute = minute_of(_codec.now().timestamp())
    counts: Counts = {}
    for state, task in items:
        if task and state in ("completed", "failed"):
            bucket = (minute, state, task)
            counts[bucket] = counts.get(bucket, 0) + 1
    return counts
