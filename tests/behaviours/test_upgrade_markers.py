"""Keys an earlier pydocket release left behind (``P:known:K`` and ``P:stream-id:K``,
written before run records held them) are honoured by add, used by replace and
cancel to withdraw the old message, deleted when done with, and never left without
an expiry; a stream id the server rejects never fails a replace or a cancel."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from docket import Disposition, Docket, ExecutionState, Worker
from docket._codec import Codec
from tests._support.timings import FAST

dumps = Codec().encode  # a pickle, as an unsigned docket writes it
RAN: list[str] = []


async def job(label: str) -> None:
    RAN.append(label)


async def leave_old_release_task(docket: Docket, key: str, due: float) -> bytes:
    """What an older release left for a queued task: the message in the stream (no
    generation field), the known marker (its due time) and the stream-id key."""
    async with docket.redis() as client:
        message_id = await client.xadd(
            docket.stream_key,
            {
                "key": key,
                "when": datetime.fromtimestamp(due, timezone.utc).isoformat(),
                "function": "job",
                "args": dumps(("old",)),
                "kwargs": dumps({}),
                "attempt": "1",
            },
        )
        await client.set(docket.known_task_key(key), repr(due))
        await client.set(docket.stream_id_key(key), message_id)
    return message_id


async def legacy_keys(docket: Docket, key: str) -> int:
    async with docket.redis() as client:
        return await client.exists(
            docket.known_task_key(key), docket.stream_id_key(key)
        )


async def test_add_honours_a_marker_and_gives_it_an_expiry(docket: Docket):
    """An add of a key an older release still holds is ALREADY_SCHEDULED, and its
    marker, which had no expiry, now expires an hour after its due time."""
    docket.register(job)
    due = time.time() + 60
    await leave_old_release_task(docket, "legacy", due)
    execution = await docket.add(job, key="legacy")("new")
    assert execution.disposition is Disposition.ALREADY_SCHEDULED
    async with docket.redis() as client:
        ttl = await client.ttl(docket.known_task_key("legacy"))
    assert 3600 < ttl <= 3661
    assert (await docket.add(job)("fresh key")).disposition is Disposition.SCHEDULED


async def test_stale_or_finished_markers_are_deleted_not_honoured(docket: Docket):
    """A marker long past due, or one whose key has a finished run record here, is
    deleted by the next add, which schedules normally."""
    docket.register(job)
    async with docket.redis() as client:
        await client.set(docket.known_task_key("stale"), repr(time.time() - 7200))
    assert (await docket.add(job, key="stale")("x")).disposition is (
        Disposition.SCHEDULED
    )
    assert await legacy_keys(docket, "stale") == 0

    async with Worker(docket, **FAST) as worker:
        await docket.add(job, key="done")("first")
        await worker.run_until_finished()
    async with docket.redis() as client:
        await client.set(docket.known_task_key("done"), repr(time.time()))
    assert (await docket.add(job, key="done")("again")).disposition is (
        Disposition.SCHEDULED
    )
    assert await legacy_keys(docket, "done") == 0


async def test_replace_withdraws_the_old_releases_message(docket: Docket):
    """Replacing a key whose earlier message is in the stream, known only through the
    legacy stream-id key: that message is deleted and never runs."""
    docket.register(job)
    RAN.clear()
    await leave_old_release_task(docket, "moved", time.time())
    await docket.replace(job, datetime.now(timezone.utc), "moved")("replacement")
    assert await legacy_keys(docket, "moved") == 0
    async with Worker(docket, **FAST) as worker:
        await worker.run_until_finished()
    assert RAN == ["replacement"]


async def test_cancel_withdraws_the_old_releases_message(docket: Docket):
    """Cancelling such a key deletes its message and both legacy keys."""
    docket.register(job)
    RAN.clear()
    await leave_old_release_task(docket, "gone", time.time())
    await docket.cancel("gone")
    assert await legacy_keys(docket, "gone") == 0
    async with Worker(docket, **FAST) as worker:
        await worker.run_until_finished()
    assert RAN == []


async def test_clear_deletes_legacy_markers(docket: Docket):
    """clear() removes the legacy keys of every task it withdraws."""
    docket.register(job)
    await docket.add(job, key="parked", when=datetime.now(timezone.utc) + timedelta(1))(
        "x"
    )
    async with docket.redis() as client:
        await client.set(docket.known_task_key("parked"), repr(time.time()))
        await client.set(docket.stream_id_key("parked"), "1-1")
    assert await docket.clear() == 1
    assert await legacy_keys(docket, "parked") == 0


async def test_a_stream_id_the_server_rejects_never_fails_replace(docket: Docket):
    """A run record whose ``stream_id`` is not a valid stream id (another writer's
    value) does not make replace or cancel fail: the old message, in the stream
    under an older generation, is refused at claim and only the replacement runs."""
    docket.register(job)
    RAN.clear()
    await docket.add(job, key="odd")("old")
    async with docket.redis() as client:
        await client.hset(docket.runs_key("odd"), "stream_id", "not-a-stream-id")
    replaced = await docket.replace(job, datetime.now(timezone.utc), "odd")("new")
    assert replaced.disposition is Disposition.SCHEDULED
    async with Worker(docket, **FAST) as worker:
        await worker.run_until_finished()
    assert RAN == ["new"]
    await docket.add(job, key="odd2", when=datetime.now(timezone.utc) + timedelta(1))(
        "x"
    )
    async with docket.redis() as client:
        await client.hset(docket.runs_key("odd2"), "stream_id", "garbage")
    await docket.cancel("odd2")
    execution = await docket.get_execution("odd2")
    assert execution is not None and execution.state is ExecutionState.CANCELLED


async def test_an_old_releases_parked_task_with_list_arguments_runs(docket: Docket):
    """A future task an earlier release parked (its arguments pickled as a list, a
    ``known`` marker beside it, no run record) runs when due, with no dead letter
    and no error logged, and its marker is deleted when it is moved."""
    RAN.clear()
    docket.register(job)
    key = "legacy-parked"
    due = time.time() + 0.05
    async with docket.redis() as client:
        await client.set(docket.known_task_key(key), repr(due))
        await client.zadd(docket.queue_key, {key: due})
        await client.hset(
            docket.parked_task_key(key),
            mapping={
                "key": key,
                "when": datetime.fromtimestamp(due, timezone.utc).isoformat(),
                "function": "job",
                "args": dumps(["old"]),
                "kwargs": dumps({}),
                "attempt": "1",
            },
        )
    async with Worker(docket, **FAST) as worker:
        await worker.run_until_finished()
    assert RAN == ["old"]
    async with docket.redis() as client:
        assert await client.xlen(docket.keyspace.dead) == 0
    assert await legacy_keys(docket, key) == 0  # moved: its marker is done with
