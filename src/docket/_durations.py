"""How a person writes a length of time: one parser for every CLI option and
``DOCKET_*`` variable that takes a duration.

Accepted: plain seconds (``90``, ``1.5``), a number with a unit (``250ms``,
``5s``, ``10m``, ``2h``, ``1d``; fractions such as ``1.5m`` too, any case),
``mm:ss`` and ``hh:mm:ss``. Anything else, negative values and lengths beyond
``MAX_CLI_DURATION`` are a ``ValueError`` that names the accepted forms.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

from . import _defaults

UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
FORMS = "seconds (90, 1.5), a unit (250ms, 5s, 10m, 2h, 1d), mm:ss or hh:mm:ss"
_NUMBER_WITH_UNIT = re.compile(r"^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h|d)?$")
_CLOCK_PART = re.compile(r"^\d+$")
_CLOCK_SECONDS = re.compile(r"^\d+(?:\.\d+)?$")


def parse_duration(value: str | timedelta) -> timedelta:
    """``value`` as a timedelta (a timedelta passes through unchanged)."""
    if isinstance(value, timedelta):
        return value
    text = value.strip().lower()
    if ":" in text:
        parts = text.split(":")
        if (
            len(parts) > 3
            or not all(_CLOCK_PART.match(p) for p in parts[:-1])
            or not _CLOCK_SECONDS.match(parts[-1])
        ):
            raise ValueError(f"{value!r} is not a duration: use {FORMS}")
        seconds = 0.0
        for part in parts:
            seconds = seconds * 60 + float(part)
        return _bounded(value, seconds)
    match = _NUMBER_WITH_UNIT.match(text)
    if match is None:
        raise ValueError(f"{value!r} is not a duration: use {FORMS}")
    number, unit = match.groups()
    return _bounded(value, float(number) * UNITS[unit or "s"])


def _bounded(value: str, seconds: float) -> timedelta:
    """``seconds`` as a timedelta, refusing absurd lengths (no OverflowError)."""
    longest = _defaults.MAX_CLI_DURATION
    if not math.isfinite(seconds) or seconds > longest.total_seconds():
        raise ValueError(
            f"{value!r} is too long: durations go up to {longest.days} days"
        )
    return timedelta(seconds=seconds)


__all__ = ["FORMS", "UNITS", "parse_duration"]
