"""Per-minute throughput counts (completed, failed, retried per task), written by
the settle script and read with Docket.throughput()."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import pytest

from docket import Docket, Retry, Worker
from tests.conftest import eventually


async def ok() -> None:
    pass


async def broken() -> None:
    raise RuntimeError("no")


async def retried(retry: Retry = Retry(attempts=3)) -> None:
    raise RuntimeError("again")


def totals(minutes: list[object]) -> dict[str, dict[str, int]]:
    summed: dict[str, dict[str, int]] = {}
    for minute in minutes:
        for task, counts in minute.tasks.items():  # type: ignore[attr-defined]
            for outcome, count in counts.items():
                mine = summed.setdefault(task, {})
                mine[outcome] = mine.get(outcome, 0) + count
    return summed


async def test_counts_per_task_and_outcome(docket: Docket, worker: Worker):
    """Completed, failed and retried runs are counted per task name."""
    for _ in range(4):
        await docket.add(ok)()
    await docket.add(broken)()
    await docket.add(retried)()
    await worker.run_until_finished()
    minutes = await docket.throughput(2)
    assert len(minutes) == 2 and minutes[0].minute < minutes[1].minute
    assert totals(minutes) == {
        "ok": {"completed": 4},
        "broken": {"failed": 1},
        "retried": {"retried": 2, "failed": 1},
    }
    assert sum(m.total("completed") for m in minutes) == 4
    assert minutes[-1].as_dict()["minute"].endswith(":00+00:00")


async def test_counts_arrive_within_seconds_while_a_worker_runs(docket: Docket):
    """A worker that keeps running writes its counts within about a second,
    without waiting for another settlement to carry them."""
    async with Worker(docket, minimum_check_interval=timedelta(milliseconds=5)) as w:
        task = asyncio.ensure_future(w.run_forever())
        try:
            await docket.add(ok)()

            async def counted() -> bool:
                return totals(await docket.throughput(2)) == {"ok": {"completed": 1}}

            await eventually(counted, timeout=5)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_the_window_is_bounded(docket: Docket):
    """At most 24 hours of minutes, at least one."""
    assert len(await docket.throughput(1440)) == 1440
    for minutes in (0, 1441):
        with pytest.raises(ValueError, match="minutes"):
            await docket.throughput(minutes)


@pytest.mark.redis_only
async def test_minute_hashes_expire_after_a_day(docket_url: str, docket_name: str):
    """Each minute's hash carries a TTL of a little over 24 hours."""
    if docket_url.startswith("memory://"):
        pytest.skip("memory:// does not report TTLs to scripts")
    async with Docket(docket_name, url=docket_url) as docket:
        async with Worker(docket) as worker:
            await docket.add(ok)()
            await worker.run_until_finished()
        [minute] = [m for m in await docket.throughput(2) if m.tasks]
        async with docket.redis() as client:
            ttl = await client.ttl(
                docket.keyspace.stats(int(minute.minute.timestamp()))
            )
        assert 24 * 3600 < ttl <= 24 * 3600 + 120
