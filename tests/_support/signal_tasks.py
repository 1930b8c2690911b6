"""Tasks the signal tests run in ``docket worker`` subprocesses: each run is
noted in a Redis list, so a test sees every run (duplicates included)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from docket import CurrentDocket, Docket, Signal


async def _note(docket: Docket, kind: str, value: Any) -> None:
    async with docket.redis() as client:
        await client.rpush(docket.key(f"test-{kind}"), json.dumps(value))


async def plain(n: int, docket: Docket = CurrentDocket()) -> None:
    """Other work: notes its number."""
    await _note(docket, "plain", n)


async def approved(
    n: int,
    decision: Any = Signal("go-{n}"),
    docket: Docket = CurrentDocket(),
) -> None:
    """Waits for signal go-<n>; notes its number and the payload."""
    await _note(docket, "approved", [n, decision])


async def patient(
    n: int,
    decision: Any = Signal("late-{n}", timeout=timedelta(seconds=1), default="none"),
    docket: Docket = CurrentDocket(),
) -> None:
    """Waits a second at most for signal late-<n>, else runs with "none"."""
    await _note(docket, "patient", [n, decision])


tasks = [plain, approved, patient]
