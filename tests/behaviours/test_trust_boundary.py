"""Signed payloads through real dockets and workers, on memory:// and redis-server:
a pickle whose unpickling creates a marker file is written straight into Redis at
each entry point; with signing keys it is never unpickled, the worker keeps
running, and the bad entry is reported."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from docket import Docket, Worker
from docket._codec import UnverifiedPayload
from docket._codec.message import UnverifiedMessage
from docket._codec.signing import Signer
from docket._redis import clear_memory_servers
from tests._support.hostile import (
    NEW_KEY,
    OLD_KEY,
    OTHER_KEY,
    hostile_message,
    marker_document,
    marker_pickle,
    proves_marker_works,
)
from tests._support.timings import FAST
from tests.conftest import eventually


async def double(x: int) -> int:
    return x * 2


async def explode(reason: str) -> None:
    raise ValueError(reason)


@pytest.fixture
async def signed(docket_url: str, docket_name: str) -> AsyncIterator[Docket]:
    async with Docket(name=docket_name, url=docket_url, signing_keys=[OLD_KEY]) as d:
        d.register(double)
        d.register(explode)
        yield d
    clear_memory_servers()


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    proves_marker_works(tmp_path)
    return tmp_path / "marker"


FORGED = Signer([OTHER_KEY]).sign([b"anything"])


@pytest.mark.parametrize(
    "function, signature",
    [("double", None), ("double", FORGED), ("no_such_task", None)],
    ids=["unsigned", "forged", "unknown-task"],
)
async def test_the_worker_never_unpickles_an_unverified_message(
    signed: Docket,
    marker: Path,
    function: str,
    signature: bytes | None,
    caplog: pytest.LogCaptureFixture,
):
    """An injected message (unsigned, wrongly signed, or naming no registered
    task) is dead-lettered with the reason and never runs; the marker never
    appears, the worker runs the next task, and replaying the dead letter is
    refused the same way."""
    async with signed.redis() as client:
        await client.xadd(
            signed.stream_key, hostile_message(marker, "hostile", function, signature)
        )
    after = await signed.add(double)(21)
    with caplog.at_level(logging.ERROR, logger="docket.worker"):
        async with Worker(signed, **FAST) as worker:
            await worker.run_until_finished()
    assert not marker.exists()
    assert await after.get_result() == 42
    (letter,) = await signed.dead_letters.list()
    reason = "not signed" if signature is None else "matches none"
    assert (letter.key, letter.reason) == ("hostile", "unverified-payload")
    assert reason in letter.detail
    assert "'hostile'" in caplog.text and reason in caplog.text
    async with signed.redis() as client:
        assert await client.xlen(signed.stream_key) == 0
    if function == "double":
        with pytest.raises(UnverifiedMessage, match=reason):
            await signed.dead_letters.replay(letter.id)
        assert await signed.dead_letters.count() == 1
    assert not marker.exists()


async def test_producers_and_workers_skip_an_unverified_strike(
    signed: Docket, marker: Path, caplog: pytest.LogCaptureFixture
):
    """A hostile strike entry is skipped with one ERROR line by every follower of
    the strike stream (a producer and a worker's docket); signed strikes after it
    still apply, and the worker keeps running tasks."""
    async with Docket(
        name=signed.name, url=signed.url, signing_keys=[OLD_KEY]
    ) as other:
        other.register(double)
        await other.wait_for_strikes_loaded()
        with caplog.at_level(logging.INFO, logger="docket.strikelist"):
            async with signed.redis() as client:
                await client.xadd(
                    signed.strike_list.strike_key,
                    {
                        b"direction": b"strike",
                        b"function": b"double",
                        b"parameter": b"x",
                        b"operator": b"==",
                        b"value": marker_pickle(marker),
                    },
                )
            await signed.strike(explode)
            await eventually(lambda: "explode" in other.strike_list.struck_functions)
        async with Worker(other, **FAST) as worker:
            run = asyncio.ensure_future(worker.run_forever())
            execution = await signed.add(double)(1)
            assert await execution.get_result(timeout=timedelta(seconds=5)) == 2
            worker.stop()
            await run
    assert not marker.exists()
    skipped = [r for r in caplog.records if "Skipping strike" in r.getMessage()]
    assert {r.levelno for r in skipped} == {logging.ERROR}
    assert len(skipped) == 2  # one line per follower (this docket and the other)
    assert all("not signed" in r.getMessage() for r in skipped)
    assert all(r.exc_info is None for r in skipped)


async def test_get_result_refuses_an_unverified_result(signed: Docket, marker: Path):
    """A stored result or exception replaced by an unsigned (or wrongly signed)
    pickle raises a clear UnverifiedPayload from get_result(); nothing is
    unpickled; genuine results and exceptions still come back."""
    good = await signed.add(double, key="good")(4)
    bad = await signed.add(explode, key="bad")("boom")
    async with Worker(signed, **FAST) as worker:
        await worker.run_until_finished()
    assert await good.get_result() == 8
    with pytest.raises(ValueError, match="boom"):
        await bad.get_result()
    for document in (marker_document(marker), marker_document(marker, "00" * 32)):
        for key in ("good", "bad"):
            execution = await signed.get_execution(key)
            assert execution is not None and execution.result_key is not None
            await signed.result_storage.put(execution.result_key, document, ttl=60)
            with pytest.raises(UnverifiedPayload, match=f"task '{key}' was not loaded"):
                await execution.get_result()
    assert not marker.exists()


async def test_the_snapshot_api_refuses_an_unverified_entry(
    signed: Docket, marker: Path
):
    """Docket.snapshot() raises UnverifiedMessage (a ValueError) for an injected
    entry instead of unpickling it."""
    await signed.add(double)(1)
    async with signed.redis() as client:
        await client.xadd(
            signed.stream_key, hostile_message(marker, "hostile", "double")
        )
    with pytest.raises(UnverifiedMessage, match="not signed"):
        await signed.snapshot()
    assert not marker.exists()


async def test_a_tampered_run_record_is_refused_by_get_execution(
    signed: Docket, marker: Path
):
    """Run records keep the signature of their message: get_execution verifies
    them, and refuses one whose arguments were swapped."""
    await signed.add(double, key="later")(5)
    execution = await signed.get_execution("later")
    assert execution is not None and execution.args == (5,)
    async with signed.redis() as client:
        await client.hset(signed.runs_key("later"), "args", marker_pickle(marker))
    with pytest.raises(UnverifiedMessage, match="matches none"):
        await signed.get_execution("later")
    assert not marker.exists()


async def test_rotation_old_key_verifies_new_key_signs(
    docket_url: str, docket_name: str
):
    """Producers still on [old] and workers already on [new, old] interoperate;
    the worker signs its results with the new key; once everyone is on [new]
    alone, old signatures are refused."""
    url, name = docket_url, docket_name
    async with (
        Docket(name=name, url=url, signing_keys=[OLD_KEY]) as old,
        Docket(name=name, url=url, signing_keys=[NEW_KEY, OLD_KEY]) as rotating,
        Docket(name=name, url=url, signing_keys=[NEW_KEY]) as new,
    ):
        for d in (old, rotating, new):
            d.register(double)
        by_old = await old.add(double, key="by-old")(1)
        async with Worker(rotating, **FAST) as worker:
            await worker.run_until_finished()
        rotated = await rotating.get_execution("by-old")
        assert rotated is not None and await rotated.get_result() == 2
        assert rotated.result_key is not None
        result = await new.result_storage.get(rotated.result_key)
        assert rotated.generation == 1
        assert new.codec.read_document("by-old", result, 1) == 2  # signed with new
        with pytest.raises(UnverifiedPayload, match="matches none"):
            await by_old.get_result()  # [old] cannot verify the new signature
        await old.add(double, key="stale")(3)
        async with Worker(new, **FAST) as worker:
            await worker.run_until_finished()
        (letter,) = await new.dead_letters.list()
        assert (letter.key, letter.reason) == ("stale", "unverified-payload")
        assert "matches none" in letter.detail
    clear_memory_servers()


async def test_without_keys_the_worker_says_so_once_at_start_up(
    docket: Docket, worker: Worker, caplog: pytest.LogCaptureFixture
):
    """Drop-in: no keys, tasks run as before, and one INFO line at start-up says
    how to sign; nothing at WARNING, so a worker run at ``--logging-level
    WARNING`` stays as quiet as pydocket's."""
    docket.register(double)
    execution = await docket.add(double)(3)
    with caplog.at_level(logging.INFO, logger="docket.worker"):
        await worker.run_until_finished()
    assert await execution.get_result() == 6
    unsigned = [r for r in caplog.records if "unsigned" in r.getMessage()]
    assert [r.levelno for r in unsigned] == [logging.INFO]
    assert "DOCKET_SIGNING_KEYS" in unsigned[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_with_keys_the_worker_does_not_warn(
    signed: Docket, caplog: pytest.LogCaptureFixture
):
    """A signing worker logs no unsigned-payload warning."""
    with caplog.at_level(logging.INFO, logger="docket.worker"):
        async with Worker(signed, **FAST) as worker:
            await worker.run_until_finished()
    assert "unsigned" not in caplog.text
