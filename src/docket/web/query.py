"""Reading query parameters: each reader checks its value and raises ``BadQuery``
(a 400 with its message, for every route: see ``create_app``) rather than
passing something malformed on to Redis or to a conversion that could fail."""

from __future__ import annotations

import math
import re
from datetime import timedelta

from starlette.requests import Request

from .._broker.lanes import due_cursor

LONGEST_TEXT = 1_000  # characters of a search, a filter or a notice
LARGEST_OFFSET = 1_000_000_000
LONGEST_SPAN = timedelta(days=365)
_STREAM_ID = re.compile(r"^([0-9]{1,20})(?:-([0-9]{1,20}))?$")
_LARGEST_PART = 2**64 - 1


class BadQuery(ValueError):
    """A query parameter the route cannot use; the message says which and why."""


def text(request: Request, name: str, longest: int = LONGEST_TEXT) -> str | None:
    """The parameter stripped of surrounding spaces, None when empty or absent."""
    value = request.query_params.get(name, "").strip()
    if len(value) > longest:
        raise BadQuery(f"{name} is longer than {longest} characters")
    return value or None


def stream_id(request: Request, name: str) -> str | None:
    """A Redis stream id (``1700000000000-0``, as the pages hand out), or None."""
    value = text(request, name)
    if value is None:
        return None
    return checked_stream_id(name, value)


def queued_cursor(request: Request, name: str) -> str | None:
    """Where the queued tasks' next page starts, as a page hands it out: a
    stream id, or a priority lane's ``<priority>:<due>:<key>``; or None."""
    value = text(request, name)
    if value is None:
        return None
    if ":" not in value:
        return checked_stream_id(name, value)
    try:
        due_cursor(value)
    except ValueError:
        raise BadQuery(f"{name} must be a place from a page") from None
    return value


def checked_stream_id(name: str, value: str) -> str:
    """``value`` when it is a Redis stream id; BadQuery naming ``name`` if not."""
    match = _STREAM_ID.match(value)
    if not match or any(
        int(part) > _LARGEST_PART for part in match.groups() if part is not None
    ):
        raise BadQuery(f"{name} must be an id from a page (like 1700000000000-0)")
    return value


def whole(
    request: Request, name: str, default: int, smallest: int, largest: int
) -> int:
    """A whole number from ``smallest`` to ``largest`` (``default`` when absent)."""
    value = text(request, name, 30)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadQuery(f"{name} must be a whole number (got {value!r})") from None
    if not smallest <= number <= largest:
        raise BadQuery(f"{name} must be from {smallest} to {largest}")
    return number


def offset(request: Request, name: str) -> int:
    """A position in a list: 0 or more (0 when absent)."""
    return whole(request, name, 0, 0, LARGEST_OFFSET)


def moment(request: Request, name: str) -> float:
    """Epoch seconds (a due time the pages hand out), 0 when absent."""
    value = text(request, name, 40)
    if value is None:
        return 0.0
    try:
        number = float(value)
    except ValueError:
        raise BadQuery(f"{name} must be a time in epoch seconds") from None
    if not math.isfinite(number) or not 0 <= number < 1e11:
        raise BadQuery(f"{name} must be a time in epoch seconds")
    return number


def minutes(request: Request, name: str) -> timedelta | None:
    """A positive number of minutes, at most a year; None when absent."""
    value = text(request, name, 30)
    if value is None:
        return None
    return minutes_of(name, value)


def minutes_of(name: str, value: str) -> timedelta:
    """``value`` (text) as a positive, finite number of minutes up to a year."""
    try:
        number = float(value)
    except ValueError:
        raise BadQuery(f"{name} must be a number of minutes (got {value!r})") from None
    if not math.isfinite(number) or number <= 0:
        raise BadQuery(f"{name} must be a positive number of minutes")
    if number > LONGEST_SPAN.total_seconds() / 60:
        raise BadQuery(f"{name} must be at most {LONGEST_SPAN.days} days of minutes")
    return timedelta(minutes=number)


def choice(request: Request, name: str, choices: tuple[str, ...], default: str) -> str:
    """One of ``choices`` (``default`` when absent)."""
    value = text(request, name, 100)
    if value is None:
        return default
    if value not in choices:
        raise BadQuery(f"{name} must be one of {', '.join(choices)}")
    return value
