"""FairShare backlogs holding a broken task, through a real Docket and Worker on both
backends: a waiting task whose parked message was deleted, or overwritten with
another type, or whose run record was, ends in the dead letters (its record
failed, not "queued" for ever), and every other task of the backlog still runs
once."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import pytest

from docket import Docket, ExecutionState
from tests._support.fair_counts import RAN, render
from tests._support.timings import fast_worker
from tests.behaviours.test_keyspace_ttl import keys_without_ttl


@pytest.fixture(autouse=True)
def fresh_log() -> None:
    RAN.clear()


async def backlog(docket: Docket) -> list[str]:
    """10 filler tasks (the first window, released to the stream at once), then
    8 tasks each of values "a" and "b", keyed <value>-<n>, waiting in their
    backlogs. Returns the keys of the waiting ones."""
    docket.register(render)
    for n in range(10):
        await docket.add(render, key=f"filler-{n}")(n, "filler")
    keys: list[str] = []
    for n in range(8):
        for value in ("a", "b"):
            await docket.add(render, key=f"{value}-{n}")(n, value)
            keys.append(f"{value}-{n}")
    depths = {d.value: d.queued for d in (await docket.fair_share_backlogs())["render"]}
    assert depths == {"a": 8, "b": 8}
    return keys


async def dead_letters(docket: Docket) -> dict[str, dict[str, str]]:
    """The dead letters by task key: their fields, as text."""
    found: dict[str, dict[str, str]] = {}
    for letter in await docket.dead_letters.list():
        fields = {
            k.decode(): v.decode(errors="replace") for k, v in letter.fields.items()
        }
        fields |= {"dead_reason": letter.reason, "dead_detail": letter.detail}
        found[letter.key] = fields
    return found


async def run_all(docket: Docket) -> None:
    async with fast_worker(docket) as worker:
        await asyncio.wait_for(worker.run_until_finished(), 30)


async def test_a_missing_or_overwritten_parked_message_is_dead_lettered(
    docket: Docket,
):
    """Two tasks waiting in their backlogs lose their parked message: one deleted,
    one overwritten with a string (HGETALL fails on it: before, every release of
    the task failed, for ever). Each ends in the dead letters (bad-parked-task, with
    its arguments and value from the run record, so it can be replayed) and its
    record ends failed; the other 24 tasks run exactly once, and no key is left
    without a TTL."""
    await backlog(docket)
    async with docket.redis() as client:
        await client.delete(docket.parked_task_key("a-3"))
        await client.delete(docket.parked_task_key("b-5"))
        await client.set(docket.parked_task_key("b-5"), "not a hash")
    await run_all(docket)

    expected = {f"filler/{n}": 1 for n in range(10)}
    expected |= {f"{v}/{n}": 1 for v in "ab" for n in range(8)}
    del expected["a/3"], expected["b/5"]
    assert RAN == Counter(expected)
    letters = await dead_letters(docket)
    assert sorted(letters) == ["a-3", "b-5"]
    for key in ("a-3", "b-5"):
        letter = letters[key]
        assert letter["dead_reason"] == "bad-parked-task"
        assert letter["function"] == "render" and letter["fair"] == key[0]
        execution = await docket.get_execution(key)
        assert execution is not None and execution.state is ExecutionState.FAILED
    assert "is missing" in letters["a-3"]["dead_detail"]
    assert "not a hash" in letters["b-5"]["dead_detail"]
    assert await docket.fair_share_backlogs() == {}
    async with docket.redis() as client:
        await client.delete(docket.parked_task_key("b-5"))  # the string we wrote
    assert await keys_without_ttl(docket) == []


async def test_a_dead_lettered_backlog_task_can_be_replayed(docket: Docket):
    """The dead letter of a backlog task whose parked message went carries the
    task's name and arguments from its run record: replayed, it runs once."""
    await backlog(docket)
    async with docket.redis() as client:
        await client.delete(docket.parked_task_key("a-6"))
    await run_all(docket)
    assert RAN["a/6"] == 0
    (letter,) = await docket.dead_letters.list()
    await docket.dead_letters.replay(letter.id)
    await run_all(docket)
    assert RAN["a/6"] == 1 and sum(RAN.values()) == 26


async def test_an_overwritten_run_record_is_dead_lettered(docket: Docket):
    """A task waiting in its backlog whose run record was overwritten with a string
    cannot say whether it is current: its parked message goes to the dead letters
    (bad-run-record) and is deleted; the others run once."""
    await backlog(docket)
    async with docket.redis() as client:
        await client.delete(docket.runs_key("b-2"))
        await client.set(docket.runs_key("b-2"), "not a hash")
    await run_all(docket)
    assert RAN["b/2"] == 0 and sum(RAN.values()) == 25
    letters = await dead_letters(docket)
    assert list(letters) == ["b-2"]
    assert letters["b-2"]["dead_reason"] == "bad-run-record"
    assert letters["b-2"]["function"] == "render"
    async with docket.redis() as client:
        assert not await client.exists(docket.parked_task_key("b-2"))


async def test_a_replay_by_name_goes_back_through_the_backlog(docket: Docket):
    """Replayed by a process that has not registered the task (as `docket dead
    replay` does), the dead letter of a backlog task keeps its FairShare value:
    it waits in that value's backlog, then runs once."""
    await backlog(docket)
    async with docket.redis() as client:
        await client.delete(docket.parked_task_key("b-4"))
    await run_all(docket)
    (letter,) = await docket.dead_letters.list()
    for n in range(20):  # these fill render's window (and wait beyond it)
        await docket.add(render)(n, "later")
    async with Docket(name=docket.name, url=docket.url) as console:
        await console.dead_letters.replay(letter.id)
    depths = {d.value: d.queued for d in (await docket.fair_share_backlogs())["render"]}
    assert depths["b"] == 1
    await run_all(docket)
    assert RAN["b/4"] == 1 and sum(RAN.values()) == 46


@pytest.mark.parametrize("stored", [b"nan", b"inf", b"-2", b"0", b"heavy"])
async def test_a_stored_weight_that_is_no_positive_number_counts_as_1(
    docket: Docket, stored: bytes, caplog: pytest.LogCaptureFixture
):
    """A weight written into P:fair:weights by hand (or by another program) that is
    not a positive, finite number: releases treat it as 1 (before, "nan" made the
    release's ZADD fail, so the value's tasks never left the backlog, and "inf"
    charged nothing, so the value went first for ever), and every reader of the
    weight reports the 1 the releases use."""
    keys = await backlog(docket)
    field = f"{len('render')}:render:a".encode()
    async with docket.redis() as client:
        await client.hset(docket.keyspace.fair_weights, field, stored)  # type: ignore[misc]
    assert await docket.get_fair_share_weight("render", "a") == 1.0
    assert await docket.fair_share_weights() == {("render", "a"): 1.0}
    depths = {d.value: d.weight for d in (await docket.fair_share_backlogs())["render"]}
    assert depths == {"a": 1.0, "b": 1.0}
    with caplog.at_level(logging.WARNING, logger="docket"):
        await run_all(docket)
    assert all(RAN[key.replace("-", "/")] == 1 for key in keys), RAN
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
