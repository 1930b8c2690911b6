"""The clock every scheduling decision reads.

``time()`` is the wall clock in seconds since the epoch and ``utcnow()`` the
same moment as an aware UTC datetime. Everything that decides *when* a task is
due reads them: the producer's default ``when`` and its "due now?" test, the
scheduler's move of due tasks, early-message parking, retry delays, the next run
of a ``Perpetual`` or ``Cron``, and the admission windows (debounce, cooldown,
rate limits, concurrency slot times). Liveness (heartbeats, leases, sweeps,
timeouts) keeps to real time: those measure how long real work takes.

``docket.contrib.pytest``'s virtual clock swaps the source with ``use()`` and
puts the real one back with ``restore()``. ``time`` is a module attribute that
names the source itself, so the real clock costs what ``time.time()`` costs.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from datetime import datetime, timezone, tzinfo

__all__ = ["is_real", "restore", "time", "use", "utcnow"]

Source = Callable[[], float]

_REAL: Source = _time.time

time: Source = _REAL


def utcnow(tz: tzinfo = timezone.utc) -> datetime:
    """The clock's moment as an aware datetime (UTC unless ``tz`` is given)."""
    if time is _REAL:  # the common case, at the cost of datetime.now()
        return datetime.now(tz)
    return datetime.fromtimestamp(time(), tz)


def use(source: Source) -> None:
    """Read ``source`` (seconds since the epoch) instead of the wall clock."""
    global time
    time = source


def restore() -> None:
    """Go back to the wall clock."""
    global time
    time = _REAL


def is_real() -> bool:
    return time is _REAL
