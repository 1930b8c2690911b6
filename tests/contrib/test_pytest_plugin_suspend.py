"""Durable sleeps under the pytest plugin's virtual clock: a task that suspends
for twenty hours resumes when ``docket_clock`` passes its time, in no time."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from docket import Checkpoint, Docket, Suspend
from docket.contrib.pytest import DocketRunner, VirtualClock

sent: list[str] = []


async def follow_up(
    user: str, suspend: Suspend = Suspend(), steps: Checkpoint = Checkpoint()
) -> str:
    if not await steps.done("welcome"):
        sent.append(f"welcome {user}")
        await steps.mark("welcome")
    await suspend.until(datetime.now(timezone.utc) + timedelta(hours=20))
    sent.append(f"how is it going, {user}?")
    return "followed up"


async def test_a_twenty_hour_sleep_passes_with_the_virtual_clock(
    memory_docket: Docket, docket_runner: DocketRunner, docket_clock: VirtualClock
) -> None:
    """The task welcomes, suspends; nothing more happens within 19 virtual hours;
    at 20 it resumes from the top (the welcome is not sent again) and completes,
    all in well under a second of wall time."""
    sent.clear()
    memory_docket.register(follow_up)
    wall = time.perf_counter()
    execution = await memory_docket.add(follow_up)("ada")
    await docket_runner.until_idle()
    assert sent == ["welcome ada"]
    await docket_clock.advance(hours=19)
    assert sent == ["welcome ada"]
    await docket_clock.advance(hours=1, seconds=1)
    assert sent == ["welcome ada", "how is it going, ada?"]
    assert await execution.get_result() == "followed up"
    assert time.perf_counter() - wall < 1.0
