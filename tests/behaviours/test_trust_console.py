"""The operator's console with signing keys, on memory:// and redis-server: the
failed-task archive, its replay, moving a waiting task and the dashboard's rows
show or reuse stored payloads only when they verify, and never unpickle what
an attacker wrote."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from docket import Disposition, Docket, ExecutionState, Worker
from docket._broker.listing import Listed
from docket._codec.message import UnverifiedMessage, encode_message
from docket._redis import clear_memory_servers
from docket.web.rows import task_row
from tests._support.hostile import (
    OLD_KEY,
    hostile_message,
    marker_pickle,
    proves_marker_works,
)
from tests._support.timings import FAST

ATTEMPTS: list[int] = []


async def fragile(x: int) -> int:
    """Fails on its first run, succeeds after."""
    ATTEMPTS.append(x)
    if len(ATTEMPTS) == 1:
        raise ValueError("first run fails")
    return x * 10


@pytest.fixture
async def signed(docket_url: str, docket_name: str) -> AsyncIterator[Docket]:
    ATTEMPTS.clear()
    async with Docket(name=docket_name, url=docket_url, signing_keys=[OLD_KEY]) as d:
        d.register(fragile)
        yield d
    clear_memory_servers()


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    proves_marker_works(tmp_path)
    return tmp_path / "marker"


async def drain(docket: Docket) -> None:
    async with Worker(docket, **FAST) as worker:
        await worker.run_until_finished()


async def test_a_signed_failure_is_shown_and_replayed_signed_again(signed: Docket):
    """The archive keeps the signature: the failure's arguments are shown without
    --unpickle because they verify, and its replay (due now, a new 'when') is
    signed again, so a signing worker runs it."""
    await signed.add(fragile, key="job")(4)
    await drain(signed)
    failed = await signed.failed_task("job")
    assert failed is not None and failed.arguments() == "(4)"
    assert await signed.replay("job") is Disposition.SCHEDULED
    await drain(signed)
    execution = await signed.get_execution("job")
    assert execution is not None and execution.state is ExecutionState.COMPLETED
    assert await execution.get_result() == 40


async def test_a_hostile_archive_entry_is_neither_shown_nor_replayed(
    signed: Docket, marker: Path
):
    """An entry written into the archive by hand is shown as unverified (even
    when unpickling is asked for), refused by replay with the reason, and never
    unpickled; bulk replay skips it."""
    async with signed.redis() as client:
        await client.xadd(
            signed.keyspace.failed,
            {
                b"key": b"planted",
                b"function": b"fragile",
                b"args": marker_pickle(marker),
                b"kwargs": b"\x80\x05}\x94.",
                b"when": str(time.time()).encode(),
                b"error_type": b"ValueError",
                b"message": b"boom",
                b"attempt": b"1",
            },
        )
    failed = await signed.failed_task("planted")
    assert failed is not None
    for unpickle in (False, True):
        assert failed.arguments(unpickle).startswith("<unverified: it is not signed")
    with pytest.raises(ValueError, match="was not replayed: it is not signed"):
        await signed.replay("planted")
    assert await signed.replay_failed() == 0
    assert await signed.failed_count() == 1
    assert not marker.exists()


async def test_moving_a_waiting_task_keeps_it_verifiable(signed: Docket, marker: Path):
    """reschedule() signs the moved message again (a worker runs it); a parked
    message whose arguments were swapped is refused, not moved or unpickled."""
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    ATTEMPTS.append(0)  # so that fragile succeeds at once
    await signed.add(fragile, key="moved", when=later)(2)
    assert await signed.reschedule("moved")
    await drain(signed)
    moved = await signed.get_execution("moved")
    assert moved is not None and await moved.get_result() == 20
    await signed.add(fragile, key="tampered", when=later)(3)
    async with signed.redis() as client:
        await client.hset(
            signed.keyspace.parked("tampered"), "args", marker_pickle(marker)
        )
    with pytest.raises(UnverifiedMessage, match="matches none"):
        await signed.reschedule("tampered")
    assert not marker.exists()


def test_dashboard_rows_show_only_verified_arguments(tmp_path: Path):
    """A dashboard row decodes signed arguments; a hostile entry's arguments are
    shown as unverified whatever ``unpickle`` says, and never unpickled."""
    proves_marker_works(tmp_path)
    marker = tmp_path / "marker"
    codec = Docket(name="rows", url="memory://rows", signing_keys=[OLD_KEY]).codec
    hostile = task_row(Listed(hostile_message(marker, "h", "fragile")), True, codec)
    assert hostile.arguments.startswith("<unverified: it is not signed")
    when = "2026-01-01T00:00:00+00:00"
    genuine = encode_message(codec, "g", "fragile", when, 1, 1, (5,), {})
    assert task_row(Listed(genuine), False, codec).arguments == "(5)"
    assert not marker.exists()
