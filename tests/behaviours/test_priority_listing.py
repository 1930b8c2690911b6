"""``Docket.snapshot()`` with priorities, on both backends: the due tasks waiting
on priority lanes are among ``future``, with the stream's, in the order workers
start them, each with its priority; the scheduled tasks follow; the lane tasks
read are bounded by the snapshot's cap while the counts stay whole."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from docket import Docket
from tests._support.lanes import add_spread


async def job(label: str) -> None: ...


async def test_snapshot_future_is_in_start_order(docket: Docket) -> None:
    """Added 5, 2, 9, 5, 7, 9 and one at 9 for later: ``future`` holds 9, 9, 7,
    then the 5s in their order, then 2 (the due ones, as workers start them),
    then the scheduled one; each execution carries its priority."""
    docket.register(job)
    await add_spread(docket, job, "spread")
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    await docket.add(job, key="later9", when=later, priority=9)("later")
    snapshot = await docket.snapshot()
    assert [(e.key, e.priority) for e in snapshot.future] == [
        ("c9", 9),
        ("f9", 9),
        ("e7", 7),
        ("a5", 5),
        ("d5", 5),
        ("b2", 2),
        ("later9", 9),
    ]
    assert snapshot.total_tasks == 7


async def test_lane_tasks_read_are_capped(
    docket: Docket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a cap of 3, a snapshot reads the first three lane tasks workers
    would start (across lanes, highest first), not every lane's; the depths
    and the total still count all of them."""
    monkeypatch.setattr("docket._broker.snapshot_view.SNAPSHOT_CAP", 3)
    docket.register(job)
    for n in range(2):
        await docket.add(job, key=f"low-{n}", priority=2)(str(n))
    for n in range(2):
        await docket.add(job, key=f"high-{n}", priority=8)(str(n))
    await docket.add(job, key="plain")("plain")
    snapshot = await docket.snapshot()
    assert [e.key for e in snapshot.future] == ["high-0", "high-1", "plain", "low-0"]
    assert snapshot.by_priority == {8: 2, 5: 1, 2: 2}
    assert snapshot.total_tasks == 5
