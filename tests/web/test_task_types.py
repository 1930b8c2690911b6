"""Task types and workers on the dashboard: per type counts and runtime and
queue-wait p50/p95 for the last hour and day (overview and ``/task-types/NAME``);
pausing a type from its page keeps its work waiting and resuming runs it; the
worker page; strikes ask before striking; a malformed filter is a 400 page."""

from __future__ import annotations

import asyncio

from docket import Docket, Worker
from tests._support.timings import FAST
from tests.web.conftest import client_of, post


async def quick_one(value: int) -> int:
    await asyncio.sleep(0.01)
    return value


async def broken_one() -> None:
    raise ValueError("broken")


def fast_worker(docket: Docket, name: str = "w-1") -> Worker:
    return Worker(
        docket,
        name=name,
        **FAST,
    )


async def test_task_type_figures_on_the_overview_and_its_page(docket: Docket):
    """Three completed and one failed run: the overview lists the types with
    their counts and percentiles, linking to each type's page, which shows the
    hour and the day; an unknown type is a 404 page."""
    docket.register(quick_one)
    docket.register(broken_one)
    for n in range(3):
        await docket.add(quick_one)(n)
    await docket.add(broken_one)()
    async with fast_worker(docket) as worker:
        await worker.run_until_finished()
    async with client_of(docket) as client:

        async def figures() -> dict[str, object]:
            answer = await client.get("/api/task-types/quick_one")
            return answer.json()["figures"]

        deadline = asyncio.get_running_loop().time() + 10
        while (await figures())["hour"]["completed"] < 3:  # type: ignore[index]
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)
        found = await figures()
        hour, day = found["hour"], found["day"]  # type: ignore[index]
        assert hour["completed"] == day["completed"] == 3
        assert 0 < hour["runtime_p50"] <= hour["runtime_p95"] < 1
        assert hour["wait_p95"] is not None
        overview = await client.get("/")
        assert 'href="/task-types/quick_one"' in overview.text
        assert 'href="/task-types/broken_one"' in overview.text
        page = await client.get("/task-types/broken_one")
        assert page.status_code == 200 and "last day" in page.text
        assert (await client.get("/task-types/never-ran")).status_code == 404


async def test_pausing_a_task_type_from_its_page(docket: Docket):
    """Pause from the type's page (it asks first): its new work waits while a
    worker runs; resume: it runs. Both come back to the type's page."""
    docket.register(quick_one)
    async with client_of(docket) as client:
        paused = await post(
            client, "/task-types/pause", task="quick_one", back="task-type"
        )
        assert paused.status_code == 303
        assert paused.headers["location"].startswith("/task-types/quick_one?")
        page = await client.get(paused.headers["location"])
        assert 'data-paused="yes"' in page.text and "Paused quick_one" in page.text
        assert 'data-action="/task-types/resume"' in page.text
        await docket.add(quick_one, key="held")(1)
        async with fast_worker(docket) as worker:
            await worker.run_until_finished()
        held = (await client.get("/api/tasks/held")).json()
        assert held["state"] in ("queued", "scheduled")
        resumed = await post(
            client, "/task-types/resume", task="quick_one", back="task-type"
        )
        assert (
            "Resumed quick_one (1 waiting tasks released)"
            in (await client.get(resumed.headers["location"])).text
        )
        async with fast_worker(docket) as worker:
            await worker.run_until_finished()
        assert (await client.get("/api/tasks/held")).json()["state"] == "completed"
        fresh = await client.get("/task-types/quick_one")
        assert 'data-confirm="Pause quick_one?' in fresh.text


async def test_the_worker_page(docket: Docket):
    """A live worker's page names its task types (linked) and what it runs; an
    unknown worker is a 404 page."""
    docket.register(quick_one)
    async with fast_worker(docket, "page-worker") as worker:
        running = asyncio.create_task(worker.run_forever())
        try:
            await page_of_worker(docket)
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)


async def page_of_worker(docket: Docket) -> None:
    async with client_of(docket) as client:
        deadline = asyncio.get_running_loop().time() + 10
        while (await client.get("/workers/page-worker")).status_code != 200:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)
        page = await client.get("/workers/page-worker")
        assert 'href="/task-types/quick_one"' in page.text
        workers = await client.get("/workers")
        assert 'href="/workers/page-worker"' in workers.text
        assert (await client.get("/workers/nobody")).status_code == 404


async def test_strikes_ask_and_bad_filters_are_a_page(docket: Docket):
    """The strike form asks for confirmation; ``/failed?since=abc`` is a 400
    HTML page saying why (JSON only under /api/)."""
    async with client_of(docket) as client:
        strikes = await client.get("/strikes")
        assert 'id="strike-form"' in strikes.text and "data-confirm=" in strikes.text
        bad = await client.get("/failed?since=abc")
        assert bad.status_code == 400
        assert bad.headers["content-type"].startswith("text/html")
        assert "since must be a number of minutes" in bad.text
        api = await client.get("/api/failed?since=abc")
        assert api.status_code == 400 and "since" in api.json()["error"]


async def test_running_rows_show_how_long_the_attempt_has_run(docket: Docket):
    """A running task's row carries when its attempt started (shown as the time
    it has been running), not when its lease was last renewed."""
    started, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        started.set()
        await release.wait()

    docket.register(hold)
    await docket.add(hold, key="held-open")()
    async with fast_worker(docket) as worker:
        running = asyncio.create_task(worker.run_until_finished())
        try:
            await asyncio.wait_for(started.wait(), 10)
            async with client_of(docket) as client:
                rows = (await client.get("/api/tasks")).json()["running"]["rows"]
                page = (await client.get("/tasks")).text
        finally:
            release.set()
            await asyncio.wait_for(running, 10)
    (row,) = rows
    record = await docket.broker.runs.record("held-open")
    assert record is not None and row["started_at"] == record.started_at
    assert 'data-style="elapsed"' in page and "running for" in page
