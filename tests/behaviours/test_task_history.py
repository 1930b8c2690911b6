"""What a run record remembers for the task's page: when the task was added, each
attempt of a retried run (worker, start, end, outcome, traceback), a redelivery,
a final failure's traceback; and the per-task-type timings (runtime and queue
wait per ten-minute window) the settle script writes."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Annotated

from docket import Docket, ExecutionState, FairShare, Retry, Worker
from docket._broker.history import attempts
from docket._broker.timing import bucket_of, bucket_value, percentile
from docket._codec import now
from docket._defaults import HISTORY_KEPT
from tests.core._broker_helpers import place, read_one

ATTEMPTS: dict[str, int] = {}


async def flaky(label: str, retry: Retry = Retry(attempts=3)) -> str:
    """Fails on its first two attempts, succeeds on the third."""
    ATTEMPTS[label] = ATTEMPTS.get(label, 0) + 1
    if ATTEMPTS[label] < 3:
        raise ValueError(f"{label} try {ATTEMPTS[label]}")
    return "done"


async def hopeless(retry: Retry = Retry(attempts=HISTORY_KEPT + 3)) -> None:
    raise RuntimeError(f"attempt {retry.attempt} refused")


async def nap(seconds: float) -> None:
    await asyncio.sleep(seconds)


async def broken() -> None:
    raise KeyError("nothing here")


async def tenant_nap(tenant: Annotated[str, FairShare()]) -> None:
    await asyncio.sleep(0)


async def test_a_retried_run_keeps_every_attempt(docket: Docket, worker: Worker):
    """Each attempt of a run that was retried stays on its record: who ran it,
    when it started and ended, how it ended and the traceback of each failure;
    the time it was added survives the retries."""
    label = f"flaky-{docket.name}"
    before = time.time()
    await docket.add(flaky, key="f1")(label)
    await worker.run_until_finished()
    record = await docket.broker.runs.record("f1")
    assert record is not None and record.state == "completed"
    assert record.added is not None and before <= record.added <= time.time()
    found = attempts(record)
    assert [a.number for a in found] == [1, 2, 3]
    assert [a.outcome for a in found] == ["retried", "retried", "completed"]
    assert {a.worker for a in found} == {worker.name}
    for number, attempt in enumerate(found[:2], start=1):
        assert attempt.error == f"ValueError: {label} try {number}"
        assert attempt.traceback is not None and "Traceback" in attempt.traceback
        assert f"{label} try {number}" in attempt.traceback
        assert attempt.started_at is not None and attempt.seconds is not None
    assert found[0].ended_at <= found[1].started_at  # type: ignore[operator]
    assert found[2].error is None and found[2].traceback is None


async def test_the_history_keeps_the_last_attempts(docket: Docket, worker: Worker):
    """A run retried many times keeps its last attempts only (bounded), and its
    final failure's traceback stays on the record."""
    await docket.add(hopeless, key="h1")()
    await worker.run_until_finished()
    record = await docket.broker.runs.record("h1")
    assert record is not None and record.state == "failed"
    last = HISTORY_KEPT + 3
    assert sorted(record.history) == list(range(last - HISTORY_KEPT, last))
    found = attempts(record)
    assert found[-1].number == last and found[-1].outcome == "failed"
    assert found[-1].traceback and f"attempt {last} refused" in found[-1].traceback
    assert f"attempt {last - 1} refused" in (found[-2].traceback or "")


async def test_adding_a_finished_key_again_starts_afresh(
    docket: Docket, worker: Worker
):
    """A new add of a finished key is a new run: no earlier attempt is shown."""
    label = f"again-{docket.name}"
    await docket.add(flaky, key="f2")(label)
    await worker.run_until_finished()
    await docket.add(flaky, key="f2")(label)
    await worker.run_until_finished()
    record = await docket.broker.runs.record("f2")
    assert record is not None and record.history == {}
    assert [a.number for a in attempts(record)] == [1]


async def test_a_redelivery_is_marked(docket: Docket):
    """A message claimed again after its worker stopped says so on the record."""
    broker = docket.broker
    await place(broker, "r1")
    delivery = await read_one(broker)
    generation = int(delivery.fields[b"generation"])
    started = now().isoformat()
    await broker.runs.claim(
        "w2", started, [("r1", generation, delivery.message_id, True)]
    )
    record = await broker.runs.record("r1")
    assert record is not None and record.redelivered and record.worker == "w2"
    [current] = attempts(record)
    assert current.redelivered and current.outcome is None


async def test_moving_a_waiting_task_keeps_when_it_was_added(docket: Docket):
    """Rescheduling a waiting task keeps its "added" time; replacing it is a new
    definition of the task and stamps a new one."""
    await docket.add(nap, key="m1", when=now() + timedelta(hours=1))(0)
    first = await docket.broker.runs.record("m1")
    assert first is not None and first.added is not None
    assert await docket.reschedule("m1", now() + timedelta(hours=2))
    moved = await docket.broker.runs.record("m1")
    assert moved is not None and moved.added == first.added
    assert moved.when is not None and first.when is not None
    assert moved.when > first.when
    await docket.replace(nap, now() + timedelta(hours=3), "m1")(0)
    replaced = await docket.broker.runs.record("m1")
    assert replaced is not None and replaced.added is not None
    assert replaced.added >= first.added


async def test_moving_a_due_task_that_waits_on_a_lane_or_in_a_backlog(
    docket: Docket,
):
    """A due task waiting on its priority lane, or in its FairShare value's
    backlog (its message parked, not in the stream), is queued: reschedule moves
    it to a later time, and runs it now again, as it does a task in the stream."""
    docket.register(tenant_nap)
    await docket.add(nap, key="laned", priority=9)(0)
    await docket.add(tenant_nap, key="fair-1")("acme")
    await docket.add(tenant_nap, key="fair-2")("acme")  # beyond the release window
    for key in ("laned", "fair-1", "fair-2"):
        assert await docket.reschedule(key, now() + timedelta(hours=1)), key
        moved = await docket.get_execution(key)
        assert moved is not None and moved.state is ExecutionState.SCHEDULED
        assert await docket.reschedule(key), key
    async with Worker(docket, minimum_check_interval=timedelta(milliseconds=5)) as w:
        await w.run_until_finished()
    for key in ("laned", "fair-1", "fair-2"):
        ran = await docket.get_execution(key)
        assert ran is not None and ran.state is ExecutionState.COMPLETED, key


async def test_timings_per_task_type(docket: Docket):
    """Runtime and queue wait are kept per task type (p50/p95 within the bucket
    resolution), with completed and failed counts."""
    for _ in range(4):
        await docket.add(nap)(0.15)
    await docket.add(broken)()
    await asyncio.sleep(0.3)  # the tasks wait in the queue before any worker runs
    async with Worker(docket, concurrency=10) as worker:
        await worker.run_until_finished()
    timings = await docket.task_timings(60)
    naps, broke = timings["nap"].summary(), timings["broken"].summary()
    assert (naps["completed"], naps["failed"]) == (4, 0)
    assert (broke["completed"], broke["failed"]) == (0, 1)
    assert 0.15 * 0.9 <= naps["runtime_p50"] <= 0.15 * 1.3
    assert naps["wait_p50"] >= 0.3 * 0.9 and naps["wait_p95"] >= naps["wait_p50"]
    assert broke["runtime_p95"] is not None and broke["runtime_p95"] < 0.1
    assert set(await docket.task_timings(1440)) == {"nap", "broken"}


def test_buckets_and_percentiles():
    """A value read back from its bucket is within 10% of it; percentiles walk
    the cumulative counts; nothing counted reads as None."""
    for seconds in (0.0007, 0.003, 0.25, 1.0, 42.0, 3600.0):
        assert abs(bucket_value(bucket_of(seconds)) - seconds) <= 0.1 * seconds
    assert bucket_of(0) == bucket_of(-1) == bucket_of(float("nan")) == 0
    histogram = {bucket_of(0.01): 90, bucket_of(2.0): 10}
    assert percentile(histogram, 0.5) == bucket_value(bucket_of(0.01))
    assert percentile(histogram, 0.95) == bucket_value(bucket_of(2.0))
    assert percentile({}, 0.5) is None
