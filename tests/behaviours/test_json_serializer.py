"""The JSON serializer through real dockets and workers, on memory:// and
redis-server: every supported type round-trips as arguments and results, strike
values travel as JSON, pickles are refused, and a producer that writes the
message of docs/security.md with plain Redis commands gets its task run."""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import math
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from docket import Disposition, Docket, ExecutionState, Worker
from docket._codec import MalformedPayload
from docket._redis import clear_memory_servers
from docket.strikelist import Operator
from tests._support.hostile import OLD_KEY, hostile_message, proves_marker_works
from tests._support.timings import FAST
from tests.conftest import eventually


class Colour(enum.Enum):
    RED = "red"
    BLUE = 2


@dataclass(frozen=True)
class Point:
    x: int
    y: float
    label: str = "p"


@dataclass
class Shape:
    name: str
    corners: list[Point] = field(default_factory=list[Point])
    tags: dict[str, Any] = field(default_factory=dict[str, Any])


class Refused(Exception):
    """A task's own exception type, rebuilt by the reader from its arguments."""


EVERY_TYPE: list[Any] = [
    None,
    True,
    -7,
    2**70,
    2.5,
    float("inf"),
    'text with "quotes" and ünïcode',
    [1, "a", [None]],
    (1, (2, 3)),
    {"plain": 1, "nested": {"k": [1, 2]}},
    {1: "int key", "$dollar": 2, (1, 2): "tuple key"},
    {1, 2, 3},
    frozenset({"a"}),
    b"\x00\xff bytes",
    datetime(2026, 5, 17, 12, 30, 1, 123456, tzinfo=timezone(timedelta(hours=2))),
    datetime(2026, 5, 17, 12, 30),
    date(2026, 5, 17),
    time(23, 59, 58, 1),
    timedelta(days=-1, seconds=2, microseconds=3),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    Decimal("-1.10"),
    Colour.RED,
    Colour.BLUE,
    Point(1, 2.5),
    Shape("tri", [Point(0, 0.0), Point(1, 1.0, "b")], {"when": date(2020, 1, 1)}),
]

SEEN: list[tuple[tuple[Any, ...], dict[str, Any]]] = []


async def echo(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    SEEN.append((args, kwargs))
    return args, kwargs


async def refuse(reason: str, code: int) -> None:
    raise Refused(reason, code)


async def clamp(x: Decimal) -> Decimal:
    return x


@pytest.fixture
async def json_docket(docket_url: str, docket_name: str) -> AsyncIterator[Docket]:
    async with Docket(name=docket_name, url=docket_url, serializer="json") as d:
        for task in (echo, refuse, clamp):
            d.register(task)
        yield d
    SEEN.clear()
    clear_memory_servers()


@pytest.mark.parametrize("keys", [None, [OLD_KEY]], ids=["unsigned", "signed"])
async def test_every_supported_type_round_trips(
    docket_url: str, docket_name: str, keys: list[str] | None
):
    """Each supported value goes through the message as an argument and keyword
    argument, and comes back through the result store, equal and same type."""
    async with Docket(
        name=docket_name, url=docket_url, serializer="json", signing_keys=keys
    ) as docket:
        docket.register(echo)
        execution = await docket.add(echo)(*EVERY_TYPE, last=EVERY_TYPE[-1])
        recorded = await docket.get_execution(execution.key)  # from the run record
        async with Worker(docket, **FAST) as worker:
            await worker.run_until_finished()
        args, kwargs = await execution.get_result()
    clear_memory_servers()
    for received in (SEEN[0][0], args, recorded.args if recorded else None):
        assert received is not None
        assert len(received) == len(EVERY_TYPE)
        for got, sent in zip(received, EVERY_TYPE, strict=True):
            assert type(got) is type(sent)
            assert got == sent or (isinstance(sent, float) and math.isnan(sent))
    assert kwargs == {"last": EVERY_TYPE[-1]}
    SEEN.clear()


async def test_exceptions_come_back_as_their_type(json_docket: Docket):
    """A task's exception is stored as JSON and re-raised with its arguments."""
    execution = await json_docket.add(refuse)("no", 3)
    async with Worker(json_docket, **FAST) as worker:
        await worker.run_until_finished()
    with pytest.raises(Refused) as raised:
        await execution.get_result()
    assert raised.value.args == ("no", 3)


@pytest.mark.parametrize(
    "name",
    ["SystemExit", "KeyboardInterrupt", "GeneratorExit", "BaseException"],
)
async def test_a_forged_error_document_never_raises_a_base_exception(
    json_docket: Docket, name: str
):
    """Without keys, an exception document naming a BaseException-only type
    (written straight into the result store, as an attacker would) makes
    get_result() raise a plain Exception naming that type, never the type
    itself; a document whose numbers are out of range raises the codec's own
    MalformedPayload (a ValueError), not OverflowError."""
    execution = await json_docket.add(refuse, key="forged")("no", 1)
    async with Worker(json_docket, **FAST) as worker:
        await worker.run_until_finished()
    forged = {"$exception": {"type": f"builtins:{name}", "args": ["bye"]}}
    document = {"serializer": "json", "data": json.dumps(forged)}
    await execution.sync()
    assert execution.result_key is not None
    await json_docket.result_storage.put(execution.result_key, document, ttl=60)
    with pytest.raises(Exception) as raised:
        await execution.get_result()
    assert type(raised.value) is Exception
    assert str(raised.value) == f"builtins.{name}: bye"
    overflow = {"$exception": {"type": "x:Y", "args": [{"$timedelta": [1e300, 0, 0]}]}}
    document = {"serializer": "json", "data": json.dumps(overflow)}
    await json_docket.result_storage.put(execution.result_key, document, ttl=60)
    with pytest.raises(MalformedPayload, match="OverflowError"):
        await execution.get_result()


async def test_unsupported_arguments_are_refused_before_anything_is_written(
    json_docket: Docket,
):
    """An argument JSON cannot carry raises TypeError naming the supported types."""
    with pytest.raises(TypeError, match="Cannot encode a object as JSON"):
        await json_docket.add(echo, key="odd")(object())
    assert (await json_docket.snapshot()).total_tasks == 0
    assert await json_docket.get_execution("odd") is None


async def test_strike_values_travel_as_json(json_docket: Docket):
    """A 'between' strike with Decimal bounds reaches another JSON docket intact."""
    async with Docket(
        name=json_docket.name, url=json_docket.url, serializer="json"
    ) as other:
        other.register(clamp)
        await other.wait_for_strikes_loaded()
        await json_docket.strike(clamp, "x", "between", (Decimal(1), Decimal(5)))
        async with json_docket.redis() as client:
            (_, fields), *_ = await client.xrange(json_docket.strike_list.strike_key)
        assert fields[b"serializer"] == b"json"
        assert json.loads(fields[b"value"]) == {
            "$tuple": [{"$decimal": "1"}, {"$decimal": "5"}]
        }
        await eventually(lambda: "clamp" in other.strike_list.task_strikes)
        pairs = other.strike_list.task_strikes["clamp"]["x"]
        assert pairs == {(Operator.BETWEEN, (Decimal(1), Decimal(5)))}
        assert (await other.add(clamp)(Decimal(3))).disposition is Disposition.STRUCK
        assert (await other.add(clamp)(Decimal(9))).disposition is Disposition.SCHEDULED


async def test_a_json_docket_never_loads_a_pickle(json_docket: Docket, tmp_path: Path):
    """Even without keys, a worker whose serializer is json refuses a pickled
    message (dead-lettered with the reason); the marker is never created."""
    proves_marker_works(tmp_path)
    marker = tmp_path / "marker"
    async with json_docket.redis() as client:
        await client.xadd(json_docket.stream_key, hostile_message(marker, "pickled"))
    async with Worker(json_docket, **FAST) as worker:
        await worker.run_until_finished()
    (letter,) = await json_docket.dead_letters.list()
    assert (letter.key, letter.reason) == ("pickled", "unverified-payload")
    assert "serializer is 'json'" in letter.detail
    assert not marker.exists()


def netstrings(*parts: bytes) -> bytes:
    return b"".join(b"%d:%s," % (len(p), p) for p in parts)


async def test_a_producer_in_another_language_can_enqueue(
    docket_url: str, docket_name: str
):
    """The message of docs/security.md, written field by field with XADD and
    signed by hand (HMAC-SHA256 over netstrings), runs on a signing JSON worker."""
    async with Docket(
        name=docket_name, url=docket_url, serializer="json", signing_keys=[OLD_KEY]
    ) as docket:
        docket.register(echo)
        function, key, when, attempt = (
            b"echo",
            b"from-go",
            b"2026-01-01T00:00:00+00:00",
            b"1",
        )
        args = json.dumps(
            ["plain", {"$decimal": "1.50"}, {"$uuid": str(uuid.UUID(int=7))}]
        )
        kwargs = json.dumps({"at": {"$datetime": "2026-01-01T00:00:00+00:00"}})
        signed = netstrings(
            b"docket.task.v2", b"json", docket_name.encode(), function, key, when,
            attempt, args.encode(), kwargs.encode(),
        )  # fmt: skip
        signature = hmac.new(OLD_KEY.encode(), signed, hashlib.sha256).hexdigest()
        async with docket.redis() as client:
            await client.xadd(
                docket.stream_key,
                {
                    "key": key,
                    "function": function,
                    "when": when,
                    "attempt": attempt,
                    "generation": "0",
                    "serializer": "json",
                    "args": args,
                    "kwargs": kwargs,
                    "signature": signature,
                },
            )
        async with Worker(docket, **FAST) as worker:
            await worker.run_until_finished()
        record = await docket.broker.runs.record("from-go")
    clear_memory_servers()
    assert record is not None and record.state == ExecutionState.COMPLETED.value
    assert SEEN == [
        (
            ("plain", Decimal("1.50"), uuid.UUID(int=7)),
            {"at": datetime(2026, 1, 1, tzinfo=timezone.utc)},
        )
    ]
    SEEN.clear()
