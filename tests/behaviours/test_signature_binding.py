"""What a signature binds, through real dockets and workers on memory:// and
redis-server: the docket's name (a message, result or strike signed for one
docket is refused by another with the same keys), the run of a result (an
earlier run's result copied over the latest is refused), and a task's time (a
message copied into the stream before it is due is parked until then, not run
early). Signatures in the v1 format are refused with a reason naming them, and
accepted only while ``DOCKET_SIGNING_ACCEPT_V1`` is on."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import pytest

from docket import Docket, Worker, _clock
from docket._codec import UnverifiedPayload
from docket._codec.message import encode_message
from docket._codec.signing import Signer
from docket._redis import clear_memory_servers
from docket.contrib.pytest import DocketRunner, VirtualClock
from tests._support.hostile import OLD_KEY
from tests._support.timings import FAST
from tests.conftest import eventually

RUNS: list[tuple[int, float]] = []


async def double(x: int) -> int:
    RUNS.append((x, _clock.time()))  # the scheduling clock (virtual in some tests)
    return x * 2


async def explode(reason: str) -> None:
    raise ValueError(reason)


@pytest.fixture(autouse=True)
def fresh_runs() -> None:
    RUNS.clear()


@pytest.fixture
async def pair(
    docket_url: str, docket_name: str
) -> AsyncIterator[tuple[Docket, Docket]]:
    """Two dockets on one Redis with the same signing keys."""
    async with (
        Docket(name=f"{docket_name}-a", url=docket_url, signing_keys=[OLD_KEY]) as a,
        Docket(name=f"{docket_name}-b", url=docket_url, signing_keys=[OLD_KEY]) as b,
    ):
        for d in (a, b):
            d.register(double)
            d.register(explode)
        yield a, b
    clear_memory_servers()


async def test_a_message_signed_for_one_docket_never_runs_in_another(
    pair: tuple[Docket, Docket],
):
    """A message copied from docket A's stream into docket B's (same keys) is
    dead-lettered by B's worker as unverified and never runs there; A's own
    worker still runs it."""
    a, b = pair
    execution = await a.add(double, key="k")(21)
    async with a.redis() as client:
        ((_, fields),) = await client.xrange(a.stream_key)
        await client.xadd(b.stream_key, fields)
    async with Worker(b, **FAST) as worker:
        await worker.run_until_finished()
    assert RUNS == []
    (letter,) = await b.dead_letters.list()
    assert (letter.key, letter.reason) == ("k", "unverified-payload")
    assert "matches none" in letter.detail
    async with Worker(a, **FAST) as worker:
        await worker.run_until_finished()
    assert await execution.get_result() == 42


async def test_a_result_signed_for_one_docket_is_refused_by_another(
    pair: tuple[Docket, Docket],
):
    """Both dockets ran a task of key 'k' (run 1 each); A's stored result copied
    over B's is refused by B's get_result, and B's own result still reads."""
    a, b = pair
    await a.add(double, key="k")(1)
    await b.add(double, key="k")(2)
    for d in (a, b):
        async with Worker(d, **FAST) as worker:
            await worker.run_until_finished()
    mine = await b.result_storage.get("k:1")  # each run's outcome: K:<generation>
    foreign = await a.result_storage.get("k:1")
    assert mine is not None and foreign is not None
    await b.result_storage.put("k:1", foreign, ttl=60)
    execution = await b.get_execution("k")
    assert execution is not None and execution.generation == 1
    with pytest.raises(UnverifiedPayload, match="matches none"):
        await execution.get_result()
    await b.result_storage.put("k:1", mine, ttl=60)
    assert await execution.get_result() == 4


async def test_a_strike_signed_for_one_docket_is_skipped_by_another(
    pair: tuple[Docket, Docket], caplog: pytest.LogCaptureFixture
):
    """A strike entry copied from A's strike stream into B's is skipped by B's
    followers with one ERROR line; B's own strikes after it still apply, and the
    task it would have struck runs in B."""
    a, b = pair
    with caplog.at_level(logging.ERROR, logger="docket.strikelist"):
        await a.strike(double, "x", "==", 5)
        async with a.redis() as client:
            entries = await client.xrange(a.strike_list.strike_key)
            await client.xadd(b.strike_list.strike_key, entries[-1][1])
        await b.strike(explode)
        await eventually(lambda: "explode" in b.strike_list.struck_functions)
    assert "double" not in b.strike_list.task_strikes
    skipped = [r for r in caplog.records if "Skipping strike" in r.getMessage()]
    assert len(skipped) == 1 and "matches none" in skipped[0].getMessage()
    execution = await b.add(double)(5)
    async with Worker(b, **FAST) as worker:
        await worker.run_until_finished()
    assert await execution.get_result() == 10


@pytest.fixture
async def signed(docket_url: str, docket_name: str) -> AsyncIterator[Docket]:
    async with Docket(name=docket_name, url=docket_url, signing_keys=[OLD_KEY]) as d:
        d.register(double)
        d.register(explode)
        yield d
    clear_memory_servers()


async def test_an_earlier_runs_outcome_copied_over_the_latest_is_refused(
    signed: Docket,
):
    """Key 'k' runs twice (generations 1 and 2). The first run's result put back
    in place of the second's is refused by get_result, naming both runs; so is
    an earlier exception; the latest result still reads. A message written
    without a run record (generation 0, as another language writes it) for the
    same key signs its result for the record's run, so it reads back."""
    await signed.add(double, key="k")(1)
    async with Worker(signed, **FAST) as worker:
        await worker.run_until_finished()
        first = await signed.result_storage.get("k:1")
        await signed.add(double, key="k")(2)
        await worker.run_until_finished()
    latest = await signed.result_storage.get("k:2")
    assert first is not None and latest is not None
    await signed.result_storage.put("k:2", first, ttl=60)
    execution = await signed.get_execution("k")
    assert execution is not None and execution.generation == 2
    with pytest.raises(UnverifiedPayload, match="run 1 of the task, which is at run 2"):
        await execution.get_result()
    await signed.result_storage.put("k:2", latest, ttl=60)
    assert await execution.get_result() == 4

    await signed.add(explode, key="e")("first")
    async with Worker(signed, **FAST) as worker:
        await worker.run_until_finished()
        failure = await signed.result_storage.get("e:1")
        await signed.add(explode, key="e")("second")
        await worker.run_until_finished()
    assert failure is not None
    await signed.result_storage.put("e:2", failure, ttl=60)
    execution = await signed.get_execution("e")
    assert execution is not None
    with pytest.raises(UnverifiedPayload, match="stored exception of task 'e'"):
        await execution.get_result()

    when = datetime.now(timezone.utc).isoformat()
    fields = encode_message(signed.codec, "k", "double", when, 1, 0, (5,), {})
    async with signed.redis() as client:
        await client.xadd(signed.stream_key, fields)  # pyright: ignore[reportArgumentType]
    async with Worker(signed, **FAST) as worker:
        await worker.run_until_finished()
    execution = await signed.get_execution("k")
    assert execution is not None and execution.generation == 2
    assert await execution.get_result() == 10


async def test_a_task_copied_into_the_stream_early_runs_once_when_due(
    signed: Docket, caplog: pytest.LogCaptureFixture
):
    """A parked task's fields copied into the stream an hour before it is due
    are parked again, not run: the task runs once, at its time, and nothing is
    left to run it again. A copy of a task that was cancelled since is only
    acknowledged. Each early message is one WARNING line. (On a virtual clock:
    the hour passes at once.)"""
    async with DocketRunner(signed, **FAST) as runner:
        with VirtualClock(runner) as clock:
            due = clock.now + timedelta(hours=1)
            execution = await signed.add(double, when=due, key="later")(7)
            await signed.add(double, when=due + timedelta(hours=1), key="cancelled")(8)
            async with signed.redis() as client:
                for key in ("later", "cancelled"):
                    fields = await client.hgetall(signed.parked_task_key(key))
                    await client.xadd(signed.stream_key, fields)
            await signed.cancel("cancelled")
            with caplog.at_level(logging.WARNING, logger="docket.worker"):
                await runner.until_idle()
                assert RUNS == []  # parked again, not run early
                await clock.advance(hours=3)
    assert len(RUNS) == 1
    ((value, ran_at),) = RUNS
    assert value == 7 and ran_at == due.timestamp()
    assert await execution.get_result() == 14
    async with signed.redis() as client:
        assert await client.xlen(signed.stream_key) == 0
        assert await client.zcard(signed.queue_key) == 0
    cancelled = await signed.get_execution("cancelled")
    assert cancelled is not None and cancelled.state.value == "cancelled"
    early = [
        r.getMessage() for r in caplog.records if "before it is due" in r.getMessage()
    ]
    assert len(early) == 2
    assert any("'later'" in line and "parked until then" in line for line in early)
    assert any("'cancelled'" in line and "dropped" in line for line in early)
    assert await signed.dead_letters.count() == 0


def v1_signed(fields: dict[bytes, bytes]) -> dict[bytes, bytes]:
    """``fields`` (a pickle task message) signed as the previous release did:
    the v1 tag and no docket name."""
    parts = [
        b"docket.task.v1",
        b"pickle",
        *(fields[name] for name in (b"function", b"key", b"when", b"attempt")),
        fields[b"args"],
        fields[b"kwargs"],
    ]
    return {**fields, b"signature": Signer([OLD_KEY]).sign(parts)}


async def test_v1_signatures_are_refused_and_replayable_during_an_upgrade(
    signed: Docket, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    """A message signed in the v1 format is dead-lettered as 'v1-signature' with
    a detail naming DOCKET_SIGNING_ACCEPT_V1, and a v1 result is refused the same
    way. With the variable on, a process accepts both (its worker warns once at
    start-up), and replaying the dead letter signs it again in v2, which the
    strict worker then runs."""
    when = datetime.now(timezone.utc).isoformat()
    fields = encode_message(signed.codec, "old", "double", when, 1, 0, (4,), {})
    async with signed.redis() as client:
        await client.xadd(signed.stream_key, v1_signed(fields))  # pyright: ignore[reportArgumentType]
    async with Worker(signed, **FAST) as worker:
        await worker.run_until_finished()
    assert RUNS == []
    (letter,) = await signed.dead_letters.list()
    assert (letter.key, letter.reason) == ("old", "v1-signature")
    assert "v1 signature" in letter.detail
    assert "DOCKET_SIGNING_ACCEPT_V1=1" in letter.detail

    monkeypatch.setenv("DOCKET_SIGNING_ACCEPT_V1", "1")
    async with Docket(
        name=signed.name, url=signed.url, signing_keys=[OLD_KEY]
    ) as upgrading:
        upgrading.register(double)
        assert upgrading.codec.accept_v1 and not signed.codec.accept_v1
        await upgrading.dead_letters.replay(letter.id)
        async with Worker(signed, **FAST) as worker:
            await worker.run_until_finished()
        assert [value for value, _ in RUNS] == [4]
        execution = await signed.get_execution("old")
        assert execution is not None and await execution.get_result() == 8

        assert execution.result_key is not None
        document = await signed.result_storage.get(execution.result_key)
        assert document is not None
        blob = signed.codec.encode(8)
        v1 = Signer([OLD_KEY]).sign([b"docket.result.v1", b"pickle", b"old", blob])
        old_document = {"data": document["data"], "signature": v1.decode()}
        await signed.result_storage.put(execution.result_key, old_document, ttl=60)
        with pytest.raises(UnverifiedPayload, match="v1 signature"):
            await execution.get_result()
        accepted = await upgrading.get_execution("old")
        assert accepted is not None and await accepted.get_result() == 8
        with caplog.at_level(logging.WARNING, logger="docket.worker"):
            async with Worker(upgrading, **FAST) as worker:
                await worker.run_until_finished()
    assert any("Accepting v1 signatures" in r.getMessage() for r in caplog.records)
    monkeypatch.setenv("DOCKET_SIGNING_ACCEPT_V1", "maybe")
    with pytest.raises(ValueError, match="DOCKET_SIGNING_ACCEPT_V1 is 1 or 0"):
        Docket(name=signed.name, url=signed.url, signing_keys=[OLD_KEY])


async def test_a_worker_keeps_running_while_early_messages_wait(signed: Docket):
    """An early message does not hold a slot: the worker runs due work while
    the early one waits parked."""
    due = datetime.now(timezone.utc) + timedelta(hours=1)
    await signed.add(double, when=due, key="far")(1)
    async with signed.redis() as client:
        fields = await client.hgetall(signed.parked_task_key("far"))
        await client.xadd(signed.stream_key, fields)
    async with Worker(signed, **FAST) as worker:
        run = asyncio.ensure_future(worker.run_forever())
        now = await signed.add(double)(2)
        assert await now.get_result(timeout=timedelta(seconds=5)) == 4
        worker.stop()
        await run
    assert [value for value, _ in RUNS] == [2]
    far = await signed.get_execution("far")
    assert far is not None and far.state.value == "scheduled"
