"""The failed-task archive and throughput counts at the broker seam: what
settle.lua writes to P:failed and P:stats:<minute>, and what failed_scan.lua
reads and purges, on memory:// and a real redis-server."""

from __future__ import annotations

from dataclasses import replace

from docket import Docket
from docket._broker import Broker, Failure
from docket._codec import Codec
from tests.core._broker_helpers import (
    TTL,
    claim_one,
    place,
    read_one,
    settlement,
)

dumps = Codec().encode  # a pickle, as an unsigned docket writes it
FAILURE = Failure(
    "ValueError", "bad input", "Traceback...\nValueError: bad input", 3, "w1"
)


async def fail_one(broker: Broker, key: str, args: tuple[object, ...] = ()) -> None:
    assert await place(broker, key, args=args)
    delivery = await read_one(broker)
    assert await claim_one(broker, key, delivery)
    item = settlement(key, int(delivery.fields[b"generation"]), delivery.message_id)
    item = replace(item, state="failed", function="trace", failure=FAILURE)
    await broker.runs.settle([item], TTL)


async def test_a_failed_settlement_is_archived_with_its_record(docket: Docket):
    """settle.lua adds one archive entry: key, task, the stored payloads, the
    failure details the worker sent, and its run's times."""
    broker = docket.broker
    await fail_one(broker, "k1", args=(1, "two"))
    page = await broker.failed.find(10, 10, {})
    assert page.cursor is None
    [(entry_id, fields)] = page.entries
    assert fields["key"] == b"k1"
    assert fields["function"] == b"trace"
    assert fields["args"] == dumps((1, "two"))
    assert fields["kwargs"] == dumps({})
    assert fields["error_type"] == b"ValueError"
    assert fields["message"] == b"bad input"
    assert fields["traceback"].endswith(b"ValueError: bad input")
    assert fields["attempt"] == b"3"
    assert fields["worker"] == b"w1"
    assert fields["failed_at"]
    assert entry_id.count("-") == 1


async def test_a_success_or_a_bare_failure_writes_no_archive_entry(docket: Docket):
    """Completed settlements and failures without details leave P:failed alone."""
    broker = docket.broker
    for key, state in (("ok", "completed"), ("bare", "failed")):
        assert await place(broker, key)
        delivery = await read_one(broker)
        assert await claim_one(broker, key, delivery)
        item = settlement(key, int(delivery.fields[b"generation"]), delivery.message_id)
        await broker.runs.settle([replace(item, state=state, function="trace")], TTL)
    assert await broker.failed.count() == 0


async def test_the_archive_keeps_the_newest_up_to_its_limit(docket: Docket):
    """With a limit of 3, five failures leave the three newest."""
    broker = docket.broker
    broker.failed_limit = 3
    for i in range(5):
        await fail_one(broker, f"k{i}")
    page = await broker.failed.find(10, 10, {})
    assert [f["key"] for _, f in page.entries] == [b"k4", b"k3", b"k2"]


async def test_pages_filters_and_budgets(docket: Docket):
    """failed_scan pages newest first with a cursor, filters on exact field
    values, and stops after examining its budget with a cursor to go on from."""
    broker = docket.broker
    for i in range(7):
        await fail_one(broker, f"k{i}")
    first = await broker.failed.find(3, 100, {})
    assert [f["key"] for _, f in first.entries] == [b"k6", b"k5", b"k4"]
    second = await broker.failed.find(3, 100, {}, first.cursor)
    assert [f["key"] for _, f in second.entries] == [b"k3", b"k2", b"k1"]
    last = await broker.failed.find(3, 100, {}, second.cursor)
    assert [f["key"] for _, f in last.entries] == [b"k0"]
    assert last.cursor is None

    found = await broker.failed.find(5, 100, {"key": "k2"})
    assert [f["key"] for _, f in found.entries] == [b"k2"]
    assert found.cursor is None
    short = await broker.failed.find(5, 2, {"key": "k2"})
    assert short.entries == [] and short.cursor is not None
    rest = await broker.failed.find(5, 100, {"key": "k2"}, short.cursor)
    assert [f["key"] for _, f in rest.entries] == [b"k2"]
    none = await broker.failed.find(5, 100, {"function": "other"})
    assert none.entries == [] and none.cursor is None


async def test_purge_deletes_only_the_matches(docket: Docket):
    """A purge pass deletes the entries matching its filters and nothing else."""
    broker = docket.broker
    for i in range(4):
        await fail_one(broker, f"k{i % 2}")
    deleted, cursor = await broker.failed.purge(100, {"key": "k1"})
    assert (deleted, cursor) == (2, None)
    page = await broker.failed.find(10, 100, {})
    assert [f["key"] for _, f in page.entries] == [b"k0", b"k0"]


async def test_counts_go_out_with_a_settlement_when_due(docket: Docket):
    """The tally rides along with settle.lua: flushed counts land in the minute's
    hash and leave the tally."""
    broker = docket.broker
    broker.tally.add("retried", "trace")
    await broker.runs.flush_tally(force=True)
    [minute] = list(await docket.throughput(1))
    assert minute.tasks == {"trace": {"retried": 1}}
    assert not broker.tally.pending
