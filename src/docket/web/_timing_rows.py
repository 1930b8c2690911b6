"""Per task type figures as the pages show them: counts and runtime and
queue-wait p50/p95 over the last hour and the last day."""

from __future__ import annotations

import time
from typing import Any

from .._broker.timing import TaskTiming
from .console import Console

SPANS = (("hour", 60), ("day", 1440))
# How long figures read for a span are shown again before being read anew: the
# day's 144 windows change slowly, and the overview updates twice a second.
FRESH_FOR = {60: 5.0, 1440: 60.0}


async def timings(console: Console, minutes: int) -> dict[str, TaskTiming]:
    """The docket's ``task_timings(minutes)``, read at most every few seconds."""
    cached = console.cache.get(("timings", minutes))
    now = time.monotonic()
    if cached is not None and cached[0] > now:
        return cached[1]
    docket = await console.ready()
    found = await docket.task_timings(minutes)
    console.cache[("timings", minutes)] = (now + FRESH_FOR.get(minutes, 5.0), found)
    return found


async def task_types(console: Console) -> list[dict[str, Any]]:
    """The overview's rows: every task type of the last day, and paused ones."""
    docket = await console.ready()
    paused = set(await docket.paused())
    hour, day = await timings(console, 60), await timings(console, 1440)
    return overview_rows(hour, day, paused)


def figures(timing: TaskTiming | None) -> dict[str, Any]:
    """``TaskTiming.summary()``, or zeros and no percentiles without runs."""
    if timing is None:
        return TaskTiming("").summary()
    return timing.summary()


def overview_rows(
    hour: dict[str, TaskTiming], day: dict[str, TaskTiming], paused: set[str]
) -> list[dict[str, Any]]:
    """One row per task type seen in the last day (or paused), busiest first."""
    names = set(hour) | set(day) | paused
    rows = [
        {
            "task": name,
            "hour": figures(hour.get(name)),
            "day": figures(day.get(name)),
            "paused": name in paused,
        }
        for name in names
    ]
    return sorted(
        rows,
        key=lambda row: (
            -(row["day"]["completed"] + row["day"]["failed"]),
            row["task"],
        ),
    )
