"""Tasks the console tests (CLI, dashboard, browser) run: in-process or in
``docket worker`` subprocesses (``tests._support.console_tasks:tasks``).

Each task records its calls under ``<docket>:test-calls`` so that a test can
wait on the record instead of sleeping."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from typing import Any

from docket import (
    Checkpoint,
    CurrentDocket,
    CurrentExecution,
    Docket,
    Execution,
    Progress,
    Retry,
    Signal,
    Suspend,
)


async def _record(docket: Docket, name: str, *values: object) -> None:
    async with docket.redis() as client:
        await client.rpush(docket.key("test-calls"), json.dumps([name, *values]))


async def calls(docket: Docket) -> list[list[object]]:
    """What the tasks recorded so far, in order."""
    async with docket.redis() as client:
        raw = await client.lrange(docket.key("test-calls"), 0, -1)
    return [json.loads(item) for item in raw]


async def fail_with(value: str, docket: Docket = CurrentDocket()) -> None:
    """Record the call, then fail with ValueError(value)."""
    await _record(docket, "fail_with", value)
    if value.startswith("ok"):
        return
    raise ValueError(f"refused {value}")


async def fail_once(value: str, docket: Docket = CurrentDocket()) -> None:
    """Fail the first time it runs with ``value``; succeed after (a replay)."""
    await _record(docket, "fail_once", value)
    earlier = [c for c in await calls(docket) if c == ["fail_once", value]]
    if len(earlier) == 1:
        raise ValueError(f"first try with {value} fails")


async def crawl(
    steps: int,
    pause: float = 0.3,
    progress: Progress = Progress(),
    docket: Docket = CurrentDocket(),
) -> None:
    """Report progress step by step, ``pause`` seconds apart."""
    await progress.set_total(steps)
    for _ in range(steps):
        await asyncio.sleep(pause)
        await progress.increment()
    await _record(docket, "crawl", steps)


async def quick(number: int, docket: Docket = CurrentDocket()) -> int:
    await _record(docket, "quick", number)
    return number


async def gives_up(
    label: str,
    execution: Execution = CurrentExecution(),
    retry: Retry = Retry(attempts=2),
) -> None:
    """Fail on both of its attempts, each with its own message."""
    raise ValueError(f"attempt {execution.attempt} of {label} fails")


async def onboard_later(
    user: str, suspend: Suspend = Suspend(), steps: Checkpoint = Checkpoint()
) -> None:
    """Welcome ``user`` (a checkpoint step), then sleep durably for a day."""
    await steps.mark(f"welcome <{user}>")
    await suspend.until(datetime.now(timezone.utc) + timedelta(days=1))


async def await_review(
    post: str,
    decision: Any = Signal("review-{post}", timeout=timedelta(days=2), default=None),
    docket: Docket = CurrentDocket(),
) -> Any:
    """Wait for signal review-<post>; note and return the decision."""
    await _record(docket, "review", decision)
    return decision


tasks = [fail_with, fail_once, crawl, quick, gives_up, onboard_later, await_review]
