"""Task keys named like the docket's own keys work, and never touch those keys.

pydocket accepts any string as a task key (its suite keys tasks ``failed`` and
``stream``). A future task parks at ``P:K``; a key that is one of the docket's own
key names (or starts with one of its key families) parks at ``P:parked:K``
instead, so a task can never overwrite, or be overwritten by, a docket key.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import cached_property

import pytest

from docket import Docket, Worker
from docket._keys import OWN_FAMILIES, OWN_NAMES, Keyspace, parked_suffix
from tests._support.timings import FAST

NAMED_LIKE_THE_DOCKET = [
    *sorted(OWN_NAMES),
    *(family + "x" for family in OWN_FAMILIES),
    "perpetual:lock",
    "leases:redelivery-sweep",
    "parked:stream",
    "parked:parked:stream",
    "wake",
]
seen: list[tuple[str, str]] = []


async def record(label: str, key: str) -> None:
    seen.append((label, key))


async def structures(docket: Docket) -> tuple[int, int, int]:
    """Lengths of the stream, the future queue and the strike log (each read with
    its own type's command, which fails on a key of another type)."""
    async with docket.redis() as client:
        return (
            await client.xlen(docket.stream_key),
            await client.zcard(docket.queue_key),
            await client.xlen(docket.keyspace.strikes),
        )


def test_every_fixed_key_of_the_keyspace_is_escaped_when_used_as_a_task_key():
    """Each fixed name a Keyspace hands out (P:<name>), and each family of keys, is
    covered by the escape, so a key added to the keyspace without adding it to
    OWN_NAMES/OWN_FAMILIES fails here."""
    keyspace = Keyspace("P")
    fixed = [
        name
        for name, value in vars(Keyspace).items()
        if isinstance(value, cached_property)
    ]
    assert fixed
    for name in fixed:
        key = getattr(keyspace, name)
        if not key.startswith("P:") or key.startswith("P:cancel:"):
            continue  # a channel, not a key
        suffix = key[len("P:") :]
        assert parked_suffix(suffix) != suffix, name
    for family in OWN_FAMILIES:
        assert parked_suffix(family + "anything") == "parked:" + family + "anything"


def test_the_parked_key_is_injective_and_keeps_every_other_key():
    """Two different task keys never share a parked key, and a key that names
    nothing of the docket's keeps ``P:K``."""
    keys = [*NAMED_LIKE_THE_DOCKET, "orders", "eu:stream", "a:b", "streams", "Queue"]
    suffixes = [parked_suffix(key) for key in keys]
    assert len(set(suffixes)) == len(keys)
    for key in ("orders", "eu:stream", "a:b", "streams", "Queue", "x:runs:y"):
        assert parked_suffix(key) == key
    assert all(parked_suffix(k) not in OWN_NAMES for k in keys)


@pytest.mark.parametrize("key", NAMED_LIKE_THE_DOCKET)
async def test_a_task_keyed_like_a_docket_key_runs_now_and_later(
    docket: Docket, key: str
):
    """Added for now and for later (parked), a task keyed like one of the docket's
    own keys runs with its own arguments and leaves the stream, queue and strike
    log as they were."""
    seen.clear()
    docket.register(record)
    await docket.strike("record", "label", "==", "never")
    before = await structures(docket)
    await docket.add(record, key=key)("now", key)
    async with Worker(docket, **FAST) as worker:
        await worker.run_until_finished()
        soon = datetime.now(timezone.utc) + timedelta(milliseconds=50)
        execution = await docket.add(record, when=soon, key=key)("later", key)
        async with docket.redis() as client:
            parked = await client.hgetall(docket.parked_task_key(key))
            assert parked[b"key"] == key.encode()
        assert await structures(docket) == (before[0], 1, before[2])
        await worker.run_until_finished()
    await execution.sync()
    assert seen == [("now", key), ("later", key)]
    assert await structures(docket) == before
    async with docket.redis() as client:
        assert await client.exists(docket.parked_task_key(key)) == 0


async def test_keys_that_escape_to_each_other_stay_apart(docket: Docket):
    """``stream``, ``parked:stream`` and ``parked:parked:stream`` parked at once
    keep three parked tasks; clear() removes exactly those and keeps the stream."""
    seen.clear()
    docket.register(record)
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    keys = ["stream", "parked:stream", "parked:parked:stream"]
    for key in keys:
        await docket.add(record, when=later, key=key)(key, key)
    snapshot = await docket.snapshot()
    assert sorted(e.key for e in snapshot.future) == sorted(keys)
    for key in keys:
        execution = await docket.get_execution(key)
        assert execution is not None and execution.args == (key, key)
    await docket.clear()
    async with docket.redis() as client:
        for key in keys:
            assert await client.exists(docket.parked_task_key(key)) == 0
        assert await client.xlen(docket.stream_key) == 0  # still a stream


async def test_a_task_keyed_wake_can_be_cancelled_while_it_waits(docket: Docket):
    """``P:cancel:wake`` is both the scheduler's wake-up channel and the cancel
    channel of a task keyed ``wake``: cancelling that task withdraws it."""
    seen.clear()
    docket.register(record)
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    await docket.add(record, when=later, key="wake")("wake", "wake")
    await docket.cancel("wake")
    snapshot = await docket.snapshot()
    assert snapshot.future == []
    async with Worker(docket, **FAST) as worker:
        await worker.run_until_finished()
    assert seen == []


@pytest.mark.parametrize("name", ["orders:eu", "a:", ":b", "{orders}", "or}ders"])
def test_docket_names_whose_keys_could_overlap_are_refused(name: str):
    """A docket name with ':' (or a brace) could share keys with another docket
    (``orders`` keying a task ``eu:stream`` would park it on ``orders:eu``'s
    stream): the constructor refuses it with a ValueError that says why."""
    with pytest.raises(ValueError, match="may not contain"):
        Docket(name=name, url="memory://")
