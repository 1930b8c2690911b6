"""Times, durations and counts as the CLI shows them to people: relative, or
local without microseconds, and nouns that agree with their numbers."""

from __future__ import annotations

from datetime import datetime, timedelta

LOCAL_FORMAT = "%Y-%m-%d %H:%M:%S %z"


def span(length: timedelta | float) -> str:
    """A length of time in at most two units: ``350ms``, ``4.2s``, ``42s``,
    ``4m 58s``, ``2h 05m``, ``3d 04h``."""
    seconds = length.total_seconds() if isinstance(length, timedelta) else length
    seconds = abs(seconds)
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, second = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {second:02d}s"
    hours, minute = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minute:02d}m"
    days, hour = divmod(hours, 24)
    return f"{days}d {hour:02d}h"


def relative(now: datetime, when: datetime | None) -> str:
    """``in 4m 58s``, ``12s ago``, ``now`` (within a tenth of a second), or ``""``
    when there is no time."""
    if when is None:
        return ""
    delta = (when - now).total_seconds()
    if abs(delta) < 0.1:
        return "now"
    return f"in {span(delta)}" if delta > 0 else f"{span(delta)} ago"


def local(when: datetime | None) -> str:
    """The local time to the second (``2026-01-31 12:00:00 +0100``), or ``""``."""
    if when is None:
        return ""
    return when.astimezone().strftime(LOCAL_FORMAT)


def local_and_relative(now: datetime, when: datetime | None) -> str:
    """For detail views: ``2026-01-31 12:00:00 +0100 (3m 10s ago)``."""
    if when is None:
        return ""
    return f"{local(when)} ({relative(now, when)})"


def count(number: int, noun: str, plural: str | None = None) -> str:
    """``1 worker``, ``2 workers``, ``0 workers``."""
    return f"{number:,} {noun if number == 1 else (plural or noun + 's')}"


__all__ = ["LOCAL_FORMAT", "count", "local", "local_and_relative", "relative", "span"]
