"""A spread of due tasks over the priority lanes, for the tests that list lane
tasks in the order workers start them (the snapshot, the CLI, the dashboard)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from docket import Docket


async def add_spread(
    docket: Docket,
    task: Callable[..., Awaitable[Any]],
    *args: Any,
    last: str = "f9",
) -> None:
    """Adds ``task(*args)`` keyed a5, b2, c9, d5, e7 and ``last``, at priorities
    5, 2, 9, 5, 7, 9 in that order: workers start them c9, ``last``, e7, a5, d5,
    b2 (the highest priority first, the longest due first among equals)."""
    keys = ("a5", "b2", "c9", "d5", "e7", last)
    for key, priority in zip(keys, (5, 2, 9, 5, 7, 9), strict=True):
        await docket.add(task, key=key, priority=priority)(*args)
