"""The JSON codec against hostile documents (no Redis needed): every malformed
document raises the codec's own ``MalformedPayload`` and nothing else (no
OverflowError, InvalidOperation, RecursionError or a type's own error escapes),
only ``Exception`` subclasses are rebuilt, and a seeded fuzz of mutated valid
documents never gets anything else out of ``loads``."""

from __future__ import annotations

import asyncio
import enum
import json
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from docket._codec.tagged_json import MalformedPayload, dumps, loads


@dataclass
class Fragile:
    """A dataclass whose constructor refuses some values with its own error."""

    n: int

    def __post_init__(self) -> None:
        if self.n < 0:
            raise RuntimeError("negative")


class Moody(enum.Enum):
    """An enum whose lookup of unknown values raises its own error."""

    CALM = 1

    @classmethod
    def _missing_(cls, value: object) -> Any:
        raise LookupError(f"no mood {value!r}")


class Picky(Exception):
    def __init__(self, code: int) -> None:
        if code < 0:
            raise ArithmeticError("negative code")
        super().__init__(code)


HERE = __name__


def tagged(tag: str, body: Any) -> bytes:
    return json.dumps({tag: body}).encode()


HOSTILE: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("not json", b"{"),
    ("not utf-8", b"\xff\xfe"),
    ("deep arrays", b"[" * 100_000 + b"]" * 100_000),
    ("deep tags", b'{"$tuple":' * 5_000 + b"[]" + b"}" * 5_000),
    ("huge integer text", b"1" * 5_000),
    ("unknown tag", tagged("$nope", 1)),
    ("timedelta overflow", tagged("$timedelta", [1e300, 0, 0])),
    ("timedelta too many days", tagged("$timedelta", [10**12, 0, 0])),
    ("timedelta not a list", tagged("$timedelta", "1d")),
    ("timedelta short", tagged("$timedelta", [1, 2])),
    ("timedelta text", tagged("$timedelta", ["a", 0, 0])),
    ("decimal syntax", tagged("$decimal", "one")),
    ("decimal number", tagged("$decimal", 5)),
    ("float word", tagged("$float", "1e999")),
    ("datetime", tagged("$datetime", "yesterday")),
    ("date", tagged("$date", 20260101)),
    ("time", tagged("$time", "25:61")),
    ("uuid", tagged("$uuid", "not-a-uuid")),
    ("bytes", tagged("$bytes", "!!!")),
    ("dict unhashable key", tagged("$dict", [[[1], 2]])),
    ("dict bad pair", tagged("$dict", [[1, 2, 3]])),
    ("set unhashable", tagged("$set", [[1]])),
    ("frozenset not list", tagged("$frozenset", {"a": 1})),
    ("tuple not list", tagged("$tuple", 5)),
    ("enum unknown type", tagged("$enum", {"type": "nowhere:Thing", "value": 1})),
    ("enum own error", tagged("$enum", {"type": f"{HERE}:Moody", "value": 9})),
    ("enum not an object", tagged("$enum", [1])),
    ("dataclass unknown", tagged("$dataclass", {"type": "builtins:int"})),
    ("dataclass bad field", tagged("$dataclass", {"type": f"{HERE}:Fragile", "fields": {"m": 1}})),
    ("dataclass own error", tagged("$dataclass", {"type": f"{HERE}:Fragile", "fields": {"n": -1}})),
    ("dataclass fields list", tagged("$dataclass", {"type": f"{HERE}:Fragile", "fields": [1]})),
    ("exception not an object", tagged("$exception", 5)),
    ("exception args not a list", tagged("$exception", {"type": "builtins:ValueError", "args": 5})),
    ("exception bad argument", tagged("$exception", {"type": "x:Y", "args": [{"$decimal": "z"}]})),
]  # fmt: skip


@pytest.mark.parametrize(
    "document", [d for _, d in HOSTILE], ids=[n for n, _ in HOSTILE]
)
def test_every_malformed_document_raises_the_codecs_own_error(document: bytes):
    """Each hostile document raises MalformedPayload (a ValueError), whatever
    went wrong inside, and its text says what."""
    with pytest.raises(MalformedPayload, match="not a valid JSON payload"):
        loads(document)


@pytest.mark.parametrize(
    "name",
    [
        "builtins:SystemExit",
        "builtins:KeyboardInterrupt",
        "builtins:GeneratorExit",
        "builtins:BaseException",
        "builtins:BaseExceptionGroup",
        "asyncio.exceptions:CancelledError",
    ],
)
def test_only_exception_subclasses_are_rebuilt(name: str):
    """A BaseException-only type named in an exception document comes back as a
    plain Exception naming it, so a reader never raises SystemExit,
    KeyboardInterrupt, GeneratorExit or CancelledError from a document."""
    assert asyncio.CancelledError  # the module is imported, so it could be found
    error = loads(tagged("$exception", {"type": name, "args": ["x", []]}))
    assert type(error) is Exception
    assert str(error) == f"{name.replace(':', '.')}: x, []"


def test_exceptions_that_refuse_their_arguments_come_back_plain():
    """An Exception subclass whose constructor raises becomes a plain Exception."""
    ok = loads(tagged("$exception", {"type": f"{HERE}:Picky", "args": [3]}))
    assert type(ok) is Picky and ok.args == (3,)
    refused = loads(tagged("$exception", {"type": f"{HERE}:Picky", "args": [-1]}))
    assert type(refused) is Exception and "Picky" in str(refused)


VALID: list[Any] = [
    {"a": [1, 2.5, None, True], "$b": (1, "x")},
    {frozenset({1, 2}), b"\x00bytes"},
    [datetime(2026, 1, 1, tzinfo=timezone.utc), timedelta(days=2, seconds=3)],
    (uuid.UUID(int=5), Decimal("1.50"), float("inf"), float("nan")),
    Fragile(4),
    Moody.CALM,
    ValueError("boom", 3),
]


def _mutate(rng: random.Random, text: bytes) -> bytes:
    data = bytearray(text)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        at = rng.randrange(len(data) + 1)
        if choice < 0.3 and data:
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif choice < 0.5:
            data[at:at] = rng.choice(
                [b"[", b"]", b"{", b"}", b",", b'"', b"-", b"1e999", b"9" * 30, b"$"]
            )
        elif choice < 0.7 and data:
            del data[at : at + rng.randint(1, 8)]
        else:
            tags = [b"$tuple", b"$timedelta", b"$decimal", b"$exception", b"$dict"]
            data = data.replace(rng.choice(tags), rng.choice(tags), 1)
    return bytes(data)


def test_fuzzed_documents_decode_or_raise_the_codecs_own_error():
    """5,000 seeded mutations of valid documents (byte flips, insertions,
    deletions, swapped tags): loads returns a value or raises MalformedPayload,
    never anything else, and never a BaseException-only instance."""
    rng = random.Random(17)
    seeds = [dumps(value) for value in VALID]
    for value, seed in zip(VALID, seeds, strict=True):
        decoded = loads(seed)
        assert decoded == value or repr(decoded) == repr(value)
    for _ in range(5_000):
        document = _mutate(rng, rng.choice(seeds))
        try:
            value = loads(document)
        except MalformedPayload:
            continue
        assert not (
            isinstance(value, BaseException) and not isinstance(value, Exception)
        )
