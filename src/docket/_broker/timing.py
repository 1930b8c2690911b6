"""Runtime and queue-wait histograms per task type, as the settle script keeps
them: one hash per ten-minute window (``P:stats:window:<epoch>``) with fields
``runtime.<bucket>:<task>``, ``wait.<bucket>:<task>`` and ``<outcome>:<task>``.

A bucket is a quarter of an octave (each bound 19% above the last), from half a
millisecond up: a percentile read back from it is within about 10% of the true
value, and a task type whose runs spread over a few decades fills a few dozen
fields per window, whatever the number of runs. Workers sum the counts before
they write them (at most once a second, with the settle call they make anyway).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

FLOOR = 0.0005  # seconds: bucket 0 holds everything shorter
STEPS_PER_OCTAVE = 4
TOP_BUCKET = 160  # 0.5 ms x 2**40: far beyond any run
METRICS = ("runtime", "wait")
OUTCOMES = ("completed", "failed", "retried")


def bucket_of(seconds: float) -> int:
    """The bucket a duration of ``seconds`` is counted in."""
    if not seconds >= FLOOR:  # shorter, negative (clock skew) or NaN: bucket 0
        return 0
    return min(int(STEPS_PER_OCTAVE * math.log2(seconds / FLOOR)) + 1, TOP_BUCKET)


def bucket_value(bucket: int) -> float:
    """A duration standing for ``bucket``: the geometric middle of its bounds
    (half the floor for bucket 0)."""
    if bucket <= 0:
        return FLOOR / 2
    return FLOOR * 2 ** ((bucket - 0.5) / STEPS_PER_OCTAVE)


def percentile(histogram: Mapping[int, int], fraction: float) -> float | None:
    """The duration below which ``fraction`` of the counted runs fall (None when
    nothing was counted)."""
    total = sum(histogram.values())
    if total <= 0:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return bucket_value(bucket)
    return bucket_value(max(histogram))  # pragma: no cover (rank <= total)


@dataclass
class TaskTiming:
    """What the windows hold for one task type, summed over a span."""

    task: str
    outcomes: dict[str, int] = field(default_factory=dict[str, int])
    runtime: dict[int, int] = field(default_factory=dict[int, int])
    wait: dict[int, int] = field(default_factory=dict[int, int])

    def add(self, name: str, count: int) -> None:
        """Add one field of a window (``runtime.12``, ``completed``...)."""
        metric, _, bucket = name.partition(".")
        if metric in METRICS and bucket.isdigit():
            histogram = self.runtime if metric == "runtime" else self.wait
            number = int(bucket)
            histogram[number] = histogram.get(number, 0) + count
        elif name in OUTCOMES:
            self.outcomes[name] = self.outcomes.get(name, 0) + count

    def summary(self) -> dict[str, Any]:
        """Counts and p50/p95 of runtime and queue wait (seconds, None when no
        run was timed)."""
        return {
            "completed": self.outcomes.get("completed", 0),
            "failed": self.outcomes.get("failed", 0),
            "retried": self.outcomes.get("retried", 0),
            "runtime_p50": percentile(self.runtime, 0.50),
            "runtime_p95": percentile(self.runtime, 0.95),
            "wait_p50": percentile(self.wait, 0.50),
            "wait_p95": percentile(self.wait, 0.95),
        }


def summed(windows: Iterable[Mapping[str, int]]) -> dict[str, TaskTiming]:
    """Task name -> its timing, summed over the raw window hashes given."""
    tasks: dict[str, TaskTiming] = {}
    for window in windows:
        for name, count in window.items():
            metric, separator, task = name.partition(":")
            if not separator:
                continue
            timing = tasks.get(task)
            if timing is None:
                timing = tasks[task] = TaskTiming(task)
            timing.add(metric, count)
    return tasks


__all__ = [
    "METRICS",
    "TaskTiming",
    "bucket_of",
    "bucket_value",
    "percentile",
    "summed",
]
