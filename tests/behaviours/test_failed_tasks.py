"""The failed tasks through a real Docket and Worker: what is kept, how it is
bounded (count and age), read, filtered, replayed and purged, through the
``docket.failed_tasks`` manager and the flat methods that alias it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from docket import Docket, Retry, Worker
from docket import _codec as codec
from docket.execution import Disposition
from tests.conftest import eventually

seen: list[tuple[object, ...]] = []


async def explode(number: int, word: str = "x") -> None:
    seen.append((number, word))
    raise ValueError(f"bad number {number}")


async def explode_twice(retry: Retry = Retry(attempts=2)) -> None:
    raise KeyError("missing")


async def fine() -> None:
    pass


@pytest.fixture(autouse=True)
def fresh_calls() -> Iterator[None]:
    seen.clear()
    yield
    seen.clear()


async def run_all(worker: Worker) -> None:
    await worker.run_until_finished()


async def test_a_failure_is_archived_with_everything_an_operator_needs(
    docket: Docket, worker: Worker
):
    """Task name, key, arguments (shown as a placeholder unless asked to unpickle),
    exception type, message, traceback, attempt, worker and times are kept."""
    await docket.add(explode, key="job-1")(7, word="seven")
    await run_all(worker)
    page = await docket.failed()
    [failed] = page.tasks
    assert page.cursor is None
    assert (failed.key, failed.function) == ("job-1", "explode")
    assert (failed.error_type, failed.message) == ("ValueError", "bad number 7")
    assert "Traceback (most recent call last)" in failed.traceback
    assert failed.traceback.rstrip().endswith("ValueError: bad number 7")
    assert failed.attempt == 1
    assert failed.worker == worker.name
    assert failed.started_at and failed.failed_at and failed.when
    assert failed.started_at <= failed.failed_at
    assert failed.arguments().startswith("args <pickled, ")
    assert failed.arguments(unpickle=True) == "(7, word='seven')"
    document = failed.as_dict()
    assert document["arguments"].startswith("args <pickled")
    assert document["task"] == "explode" and document["traceback"]


async def test_only_the_final_failure_of_a_retried_task_is_archived(
    docket: Docket, worker: Worker
):
    """A retried attempt is not a failure yet: the archive holds the last one."""
    await docket.add(explode_twice, key="twice")()
    await docket.add(fine)()
    await run_all(worker)
    [failed] = (await docket.failed()).tasks
    assert (failed.key, failed.attempt, failed.error_type) == ("twice", 2, "KeyError")


async def test_successes_leave_the_archive_empty(docket: Docket, worker: Worker):
    """Completed tasks never reach the archive."""
    for _ in range(5):
        await docket.add(fine)()
    await run_all(worker)
    assert (await docket.failed()).tasks == []
    assert await docket.failed_count() == 0


async def test_newest_first_in_pages_with_filters(docket: Docket, worker: Worker):
    """Pages come newest first with a cursor; task, exception type, key and age
    filters narrow them."""
    for i in range(5):
        await docket.add(explode, key=f"e{i}")(i)
        await run_all(worker)
    await docket.add(explode_twice, key="k")()
    await run_all(worker)
    first = await docket.failed(limit=4)
    assert [t.key for t in first.tasks] == ["k", "e4", "e3", "e2"]
    rest = await docket.failed(limit=4, cursor=first.cursor)
    assert [t.key for t in rest.tasks] == ["e1", "e0"] and rest.cursor is None
    by_task = await docket.failed(task="explode_twice")
    assert [t.key for t in by_task.tasks] == ["k"]
    by_type = await docket.failed(error_type="ValueError", limit=10)
    assert len(by_type.tasks) == 5
    assert [t.key for t in (await docket.failed(key="e3")).tasks] == ["e3"]
    assert len((await docket.failed(since=timedelta(minutes=5))).tasks) == 6


async def test_bad_reads_are_refused_clearly(docket: Docket):
    """Nonsense limits and windows are errors, not empty answers."""
    with pytest.raises(ValueError, match="limit"):
        await docket.failed(limit=0)
    with pytest.raises(ValueError, match="since"):
        await docket.failed(since=timedelta(0))
    with pytest.raises(KeyError, match="queue"):  # a key like any other
        await docket.replay("queue")
    with pytest.raises(KeyError, match="nothing-here"):
        await docket.replay("nothing-here")


async def test_replay_runs_the_task_again_with_its_original_arguments(
    docket: Docket, worker: Worker
):
    """replay(key) adds the archived task under its key with the bytes it was
    stored with; it leaves the archive, and fails into it again."""
    await docket.add(explode, key="again")(42, word="answer")
    await run_all(worker)
    assert await docket.replay("again") is Disposition.SCHEDULED
    assert (await docket.failed()).tasks == []
    await run_all(worker)
    assert seen == [(42, "answer"), (42, "answer")]
    [failed] = (await docket.failed()).tasks
    assert failed.key == "again"


async def test_replay_of_a_live_key_keeps_the_entry(docket: Docket, worker: Worker):
    """When the key is scheduled again already, replay says so and keeps the entry."""
    await docket.add(explode, key="busy")(1)
    await run_all(worker)
    await docket.add(fine, key="busy", when=codec.now() + timedelta(hours=1))()
    assert await docket.replay("busy") is Disposition.ALREADY_SCHEDULED
    assert [t.key for t in (await docket.failed()).tasks] == ["busy"]


async def test_replay_all_matching(docket: Docket, worker: Worker):
    """replay_failed replays every match once per key, and only the matches."""
    for i in range(3):
        await docket.add(explode, key=f"m{i}")(i)
    await docket.add(explode_twice, key="other")()
    await run_all(worker)
    seen.clear()
    assert await docket.replay_failed(task="explode") == 3
    await run_all(worker)
    assert sorted(seen) == [(0, "x"), (1, "x"), (2, "x")]
    assert {t.key for t in (await docket.failed(limit=10)).tasks} == {
        "m0",
        "m1",
        "m2",
        "other",
    }


async def test_purge_by_filter_age_or_everything(docket: Docket, worker: Worker):
    """purge removes what matches every filter given; older_than spares recent
    failures; no filter empties the archive."""
    for i in range(3):
        await docket.add(explode, key=f"p{i}")(i)
    await docket.add(explode_twice, key="q")()
    await run_all(worker)
    assert await docket.purge(older_than=timedelta(hours=1)) == 0
    assert await docket.purge(task="explode_twice") == 1
    assert await docket.purge(key="p1") == 1
    assert await docket.failed_count() == 2
    assert await docket.purge() == 2
    assert (await docket.failed()).tasks == []
    with pytest.raises(ValueError, match="older_than"):
        await docket.purge(older_than=timedelta(seconds=-1))


async def test_the_count_bound(docket_url: str, docket_name: str):
    """failed_limit keeps the newest entries only; 0 archives nothing."""
    for limit, kept in ((2, ["c4", "c3"]), (0, [])):
        name = f"{docket_name}-{limit}"
        async with Docket(name, url=docket_url, failed_limit=limit) as docket:
            docket.register(explode)
            async with Worker(docket) as worker:
                for i in range(5):
                    await docket.add(explode, key=f"c{i}")(i)
                    await run_all(worker)
            assert [t.key for t in (await docket.failed()).tasks] == kept


async def test_short_retention_drops_old_failures(docket_url: str, docket_name: str):
    """Entries older than failed_retention disappear from reads, and the next
    failure trims them from the stream."""
    retention = timedelta(seconds=1)
    async with Docket(docket_name, url=docket_url, failed_retention=retention) as d:
        async with Worker(d, minimum_check_interval=timedelta(milliseconds=5)) as w:
            await d.add(explode, key="old")(1)
            await run_all(w)
            assert [t.key for t in (await d.failed()).tasks] == ["old"]

            async def gone() -> bool:
                return not (await d.failed()).tasks

            await eventually(gone, timeout=5)
            await d.add(explode, key="new")(2)
            await run_all(w)
            assert [t.key for t in (await d.failed()).tasks] == ["new"]
            assert await d.failed_count() == 1


async def test_a_failure_stays_for_seven_days(
    docket: Docket, worker: Worker, monkeypatch: pytest.MonkeyPatch
):
    """With the default retention, a failure is still there (and replayable) when
    the clock says almost seven days have passed, trims included, and gone after."""
    await docket.add(explode, key="week")(7)
    await run_all(worker)
    real_now = codec.now

    def later(delta: timedelta) -> None:
        def shifted() -> datetime:
            return real_now() + delta

        monkeypatch.setattr(codec, "now", shifted)

    later(timedelta(days=7) - timedelta(minutes=1))
    await docket.add(explode, key="trim")(8)  # settles with the clock moved: trims
    await run_all(worker)
    assert {t.key for t in (await docket.failed()).tasks} == {"week", "trim"}
    # Age is measured from when an entry was written (its stream id, the server's
    # clock): both entries were written just now, so both are past retention.
    later(timedelta(days=7, minutes=1))
    assert (await docket.failed()).tasks == []
    with pytest.raises(KeyError):
        await docket.replay("week")
    assert await docket.failed_count() == 2  # not trimmed until the next failure
    await docket.add(explode, key="late")(9)
    await run_all(worker)
    assert await docket.failed_count() == 0  # (by the moved clock, all are old)


def test_settings_come_from_arguments_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
):
    """DOCKET_FAILED_LIMIT / DOCKET_FAILED_RETENTION set the bounds; bad values
    are clear errors."""
    assert Docket("d", url="memory://").failed_limit == 10_000
    assert Docket("d", url="memory://").failed_retention == timedelta(days=7)
    monkeypatch.setenv("DOCKET_FAILED_LIMIT", "25")
    monkeypatch.setenv("DOCKET_FAILED_RETENTION", "3600")
    docket = Docket("d", url="memory://")
    assert (docket.failed_limit, docket.failed_retention) == (25, timedelta(hours=1))
    monkeypatch.setenv("DOCKET_FAILED_RETENTION", "2d")  # the CLI's durations too
    assert Docket("d", url="memory://").failed_retention == timedelta(days=2)
    assert Docket("d", url="memory://", failed_limit=3).failed_limit == 3
    monkeypatch.setenv("DOCKET_FAILED_LIMIT", "many")
    with pytest.raises(ValueError, match="DOCKET_FAILED_LIMIT"):
        Docket("d", url="memory://")
    monkeypatch.delenv("DOCKET_FAILED_LIMIT")
    monkeypatch.setenv("DOCKET_FAILED_RETENTION", "a week")
    with pytest.raises(ValueError, match="DOCKET_FAILED_RETENTION"):
        Docket("d", url="memory://")
    monkeypatch.delenv("DOCKET_FAILED_RETENTION")
    with pytest.raises(ValueError, match="negative"):
        Docket("d", url="memory://", failed_limit=-1)
    with pytest.raises(ValueError, match="longer than zero"):
        Docket("d", url="memory://", failed_retention=timedelta(0))


async def test_the_failed_tasks_manager_mirrors_the_dead_letters(
    docket: Docket, worker: Worker
):
    """``docket.failed_tasks`` lists, gets, counts, replays and purges as
    ``docket.dead_letters`` does; the flat methods answer the same."""
    await docket.add(explode, key="one")(1)
    await docket.add(explode, key="two")(2)
    await run_all(worker)
    failed_tasks = docket.failed_tasks
    listed = await failed_tasks.list()
    keys = [t.key for t in listed.tasks]  # newest first: whichever failed last
    assert sorted(keys) == ["one", "two"]
    assert [t.key for t in (await docket.failed()).tasks] == keys
    assert await failed_tasks.count() == await docket.failed_count() == 2
    got = await failed_tasks.get("one")
    assert got is not None and got == await docket.failed_task("one")
    assert await failed_tasks.get("never") is None
    assert await failed_tasks.replay("one") is Disposition.SCHEDULED
    assert await failed_tasks.count() == 1
    with pytest.raises(KeyError):
        await failed_tasks.replay("one")  # it left the failed tasks when scheduled
    await run_all(worker)  # it fails again, and is kept again
    assert await failed_tasks.replay_all(task="explode") == 2
    await run_all(worker)
    assert await failed_tasks.purge(key="two") == 1
    assert [t.key for t in (await failed_tasks.list()).tasks] == ["one"]
    assert await docket.purge() == 1
    assert await failed_tasks.count() == 0
