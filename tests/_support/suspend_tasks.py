"""Tasks the Suspend/Checkpoint process tests run in ``docket worker`` processes.

Each records what it did in lists under ``<docket>:test-...`` keys (the process's
pid with it), so a test can wait on the record instead of sleeping."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from docket import Checkpoint, CurrentDocket, Docket, Suspend, TaskKey


async def _note(docket: Docket, what: str, value: str) -> None:
    async with docket.redis() as client:
        await client.rpush(docket.key(f"test-{what}"), f"{value}|{os.getpid()}")


async def onboard(
    user: str,
    key: str = TaskKey(),
    docket: Docket = CurrentDocket(),
    suspend: Suspend = Suspend(),
    steps: Checkpoint = Checkpoint(),
) -> str:
    """Welcome once, wait for ``verified-<user>``, sleep a moment, activate."""
    if not await steps.done("welcome"):
        await _note(docket, "welcome", key)
        await steps.mark("welcome")
    code = await suspend.for_signal(f"verified-{user}")
    await _note(docket, "verified", f"{key}:{code}")
    await suspend.until(datetime.now(timezone.utc) + timedelta(milliseconds=300))
    await _note(docket, "activated", f"{key}:{code}")
    return f"{user}:{code}"


tasks = [onboard]
