"""Strike values typed by hand (a ``docket strike`` argument, a dashboard form
field) turned into Python values: literals of a fixed list of types, never code.

``parse_literal(type_name, text)`` is what the dashboard uses (the type comes
from its own field). ``parse_typed("int:42")`` reads the command line's
``type:text`` form; a prefix that is not one of ``LITERAL_TYPES`` is an error,
unless the caller hands in a ``fallback`` (the CLI does so only behind
``--unsafe-resolve-values``). Nothing here imports a module by name or calls
anything chosen by the text."""

from __future__ import annotations

import decimal
import math
import re
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

_TYPE_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _boolean(text: str) -> bool:
    word = text.strip().lower()
    if word not in ("true", "false"):
        raise ValueError(f"{text!r} is not true or false")
    return word == "true"


def _none(text: str) -> None:
    if text.strip():
        raise ValueError(f"None takes no text (got {text!r})")
    return None


def _decimal(text: str) -> decimal.Decimal:
    try:
        return decimal.Decimal(text.strip())
    except decimal.InvalidOperation:
        raise ValueError(f"{text!r} is not a decimal number") from None


def _seconds(text: str) -> timedelta:
    seconds = float(text)
    if not math.isfinite(seconds):
        raise ValueError(f"{text!r} is not a finite number of seconds")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{text!r} seconds is out of range") from None


def _date(text: str) -> date:
    return date.fromisoformat(text.strip())


def _datetime(text: str) -> datetime:
    return datetime.fromisoformat(text.strip())


# The types a strike value may have, by the name the CLI prefix and the
# dashboard's type field use; each parser takes the text and raises ValueError.
LITERAL_TYPES: dict[str, Callable[[str], Any]] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": _boolean,
    "None": _none,
    "decimal.Decimal": _decimal,
    "uuid.UUID": uuid.UUID,
    "datetime.timedelta": _seconds,
    "datetime.date": _date,
    "datetime.datetime": _datetime,
}

# A type prefix that is none of the above: the type path and the text.
Fallback = Callable[[str, str], Any]


def parse_literal(type_name: str, text: str) -> Any:
    """``text`` as a value of the type named ``type_name`` (a key of
    ``LITERAL_TYPES``); ValueError names what is wrong."""
    parser = LITERAL_TYPES.get(type_name)
    if parser is None:
        raise ValueError(
            f"unknown value type {type_name!r}; use one of {', '.join(LITERAL_TYPES)}"
        )
    try:
        return parser(text)
    except (ValueError, TypeError, ArithmeticError) as error:
        raise ValueError(f"{text!r} is not a valid {type_name}: {error}") from None


def parse_typed(value: str | None, fallback: Fallback | None = None) -> Any:
    """The command line's ``type:text``: ``int:42`` is 42, plain text stays a
    string, and the text after the *first* colon is the value (``str:a:b`` is
    ``'a:b'``). ``bool:x`` is true only for ``true`` (any case), as the reference
    reads it. A prefix outside ``LITERAL_TYPES`` goes to ``fallback`` when one
    is given, and is a ValueError otherwise."""
    if value is None:
        return None
    type_path, colon, text = value.partition(":")
    if not colon or not _TYPE_PATH.match(type_path):
        return value
    if type_path == "bool":
        return text.strip().lower() == "true"
    if type_path in LITERAL_TYPES:
        return parse_literal(type_path, text)
    if fallback is not None:
        return fallback(type_path, text)
    raise ValueError(
        f"unknown type {type_path!r} in {value!r}: the types are "
        f"{', '.join(LITERAL_TYPES)} (write str:{value} for a string with a colon)"
    )


def split_between(value: str) -> tuple[str, str]:
    """``LOW,HIGH`` (split at the first comma) for the ``between`` operator."""
    low, comma, high = value.partition(",")
    if not comma:
        raise ValueError("'between' takes LOW,HIGH, for example int:10,int:100")
    return low, high
