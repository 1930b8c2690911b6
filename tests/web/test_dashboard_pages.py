"""The dashboard's pages and /api/ data through its ASGI app, on memory:// and a
real redis-server: counts, task tables with progress, search, pagination, the
failed archive, dead letters, workers, strikes, and every action."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx

from docket import Docket, Worker
from docket._codec import Codec, now
from tests.conftest import eventually
from tests.web.conftest import post

dumps = Codec().encode  # a pickle, as an unsigned docket writes it
PAGES = ["/", "/tasks", "/failed", "/dead", "/workers", "/strikes"]
APIS = ["overview", "tasks", "failed", "dead", "workers", "strikes", "counts"]


async def test_every_page_and_api_answers(client: httpx.AsyncClient):
    """Each page renders (with its timing header) and each API answers JSON, on
    an empty docket too."""
    for path in PAGES:
        response = await client.get(path)
        assert response.status_code == 200, path
        assert "text/html" in response.headers["content-type"]
        assert response.headers["server-timing"].startswith("app;dur=")
    for name in APIS:
        response = await client.get(f"/api/{name}")
        assert response.status_code == 200, name
        assert isinstance(response.json(), dict)
    dead = await client.get("/dead")
    assert "No dead letters" in dead.text
    assert (await client.get("/static/docket.js")).status_code == 200


async def test_counts_and_task_tables(docket: Docket, client: httpx.AsyncClient):
    """Queued, scheduled and running tasks show up with due times and arguments
    as placeholders; running ones carry their progress."""
    await docket.add("quick", key="q-1")(1)
    await docket.add("quick", key="s-1", when=now() + timedelta(hours=1))(2)
    counts = (await client.get("/api/counts")).json()
    assert (counts["queued"], counts["scheduled"], counts["running"]) == (1, 1, 0)
    found = (await client.get("/api/tasks")).json()
    [queued] = found["queued"]["rows"]
    assert (queued["key"], queued["task"]) == ("q-1", "quick")
    assert queued["arguments"].startswith("args <pickled")
    [scheduled] = found["scheduled"]["rows"]
    assert scheduled["key"] == "s-1" and scheduled["when"]
    page = (await client.get("/tasks")).text
    assert "q-1" in page and "s-1" in page and "run now" in page


async def test_running_tasks_show_progress(docket: Docket, client: httpx.AsyncClient):
    """A running task appears under running with its worker and progress."""
    await docket.add("crawl", key="c-1")(3, 0.5)
    async with Worker(docket, minimum_check_interval=timedelta(milliseconds=5)) as w:
        runner = asyncio.ensure_future(w.run_until_finished())

        async def progressing() -> dict[str, object] | None:
            rows = (await client.get("/api/tasks")).json()["running"]["rows"]
            if rows and rows[0]["percent"] is not None and rows[0]["current"] >= 1:
                return rows[0]
            return None

        row = await eventually(progressing, timeout=10)
        assert row["key"] == "c-1" and row["worker"] == w.name and row["total"] == 3
        await runner
    assert (await client.get("/api/counts")).json()["running"] == 0


async def test_search_and_pages(docket: Docket, client: httpx.AsyncClient):
    """Search matches a task name or part of a key; pages follow a cursor."""
    for i in range(120):
        await docket.add("quick", key=f"bulk-{i:03d}")(i)
    await docket.add("fail_with", key="needle")("x")
    first = (await client.get("/api/tasks")).json()["queued"]
    assert len(first["rows"]) == 50 and first["next"]
    second = (await client.get(f"/api/tasks?queued_after={first['next']}")).json()
    assert second["queued"]["rows"][0]["key"] == "bulk-050"
    by_task = (await client.get("/api/tasks?q=fail_with")).json()
    assert [r["key"] for r in by_task["queued"]["rows"]] == ["needle"]
    by_key = (await client.get("/api/tasks?q=bulk-11")).json()
    assert len(by_key["queued"]["rows"]) == 10
    assert by_key["lookup"] == {"key": "bulk-11", "state": None}
    exact = (await client.get("/api/tasks?q=needle")).json()["lookup"]
    assert (exact["state"], exact["task"]) == ("queued", "fail_with")
    bad = await client.get("/api/tasks?scheduled_offset=-1")
    assert bad.status_code == 400


async def test_task_actions(docket: Docket, client: httpx.AsyncClient):
    """cancel, run now and reschedule act on waiting tasks; mistakes come back as
    notices and change nothing."""
    await docket.add("quick", key="later", when=now() + timedelta(hours=1))(1)
    await docket.add("quick", key="other", when=now() + timedelta(hours=1))(2)
    response = await post(client, "/tasks/run-now", key="later")
    assert response.status_code == 303
    notice = parse_qs(urlsplit(response.headers["location"]).query)["notice"][0]
    assert notice == "later runs now"
    counts = (await client.get("/api/counts")).json()
    assert (counts["queued"], counts["scheduled"]) == (1, 1)
    await post(client, "/tasks/reschedule", key="later", delay="600")
    rows = (await client.get("/api/tasks")).json()["scheduled"]["rows"]
    assert [r["key"] for r in rows] == ["later", "other"]
    await post(client, "/tasks/cancel", key="other")
    rows = (await client.get("/api/tasks")).json()["scheduled"]["rows"]
    assert [r["key"] for r in rows] == ["later"]
    wrong = await post(client, "/tasks/reschedule", key="later", delay="soon")
    assert (
        "Error: delay must be a number"
        in parse_qs(urlsplit(wrong.headers["location"]).query)["notice"][0]
    )
    gone = await post(client, "/tasks/run-now", key="nothing")
    assert "is not waiting" in gone.headers["location"].replace("+", " ")
    await post(client, "/tasks/cancel", key="queue")  # a task key like any other
    rows = (await client.get("/api/tasks")).json()["scheduled"]["rows"]
    assert [r["key"] for r in rows] == ["later"]


async def test_failed_page_replay_and_purge(docket: Docket, client: httpx.AsyncClient):
    """The archive shows tracebacks; replay one, replay all matching and purge
    work from the page."""
    for i in range(3):
        await docket.add("fail_with", key=f"f{i}")(f"v{i}")
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    page = (await client.get("/failed")).text
    assert "ValueError" in page and "Traceback (most recent call last)" in page
    assert "&lt;pickled" in page
    listed = (await client.get("/api/failed?error_type=ValueError")).json()
    assert listed["total"] == 3 and len(listed["tasks"]) == 3
    assert (await client.get("/api/failed?since=abc")).status_code == 400
    await post(client, "/failed/replay", key="f0")
    assert (await client.get("/api/counts")).json()["queued"] == 1
    response = await post(client, "/failed/replay-all", task="fail_with")
    assert "Replayed+2" in response.headers["location"]
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert (await client.get("/api/failed")).json()["total"] == 3
    refused = await post(client, "/failed/purge")
    assert "Error" in refused.headers["location"]
    await post(client, "/failed/purge", key="f1")
    assert (await client.get("/api/failed")).json()["total"] == 2
    await post(client, "/failed/purge", all="1")
    assert (await client.get("/api/failed")).json()["total"] == 0


async def test_dead_letters_are_listed(docket: Docket, client: httpx.AsyncClient):
    """Entries of the dead-letter stream appear with their reason; payloads only
    by size."""
    async with docket.redis() as redis:
        await redis.xadd(
            docket.keyspace.dead,
            {
                "key": "d1",
                "function": "quick",
                "dead_reason": "poison",
                "args": dumps((1,)),
            },
        )
    [letter] = (await client.get("/api/dead")).json()["letters"]
    assert (letter["key"], letter["reason"]) == ("d1", "poison")
    page = (await client.get("/dead")).text
    assert "poison" in page and "&lt;pickled" in page


async def test_dead_letters_are_replayed_and_purged(
    docket: Docket, client: httpx.AsyncClient
):
    """A dead letter whose message is readable can be replayed from the page (it
    runs again under its key); purge removes one, or all."""
    for i in range(3):
        await docket.add("quick", key=f"q{i}")(i)
    async with docket.redis() as redis:
        entries = await redis.xrange(docket.stream_key)
    await docket.broker.ensure_group()
    await docket.broker.queue.read("ghost", 10, 10)
    async with Worker(docket, max_deliveries=1) as worker:
        worker.redelivery_timeout = timedelta(milliseconds=10)
        await worker.run_until_finished()
    letters = (await client.get("/api/dead")).json()["letters"]
    assert len(letters) == len(entries) == 3
    assert {letter["reason"] for letter in letters} == {"max-deliveries"}
    response = await post(client, "/dead/replay", id=letters[0]["id"])
    assert "Replayed" in response.headers["location"]
    assert (await client.get("/api/counts")).json()["queued"] == 1
    await post(client, "/dead/purge", id=letters[1]["id"])
    assert len((await client.get("/api/dead")).json()["letters"]) == 1
    await post(client, "/dead/purge", all="1")
    assert (await client.get("/api/dead")).json()["letters"] == []


async def test_workers_page(docket: Docket, client: httpx.AsyncClient):
    """Workers show their concurrency, in-flight count and tasks."""
    async with Worker(docket, name="w-one", concurrency=7):
        await docket.broker.workers.heartbeat("w-one", ["quick"], 60, 7)
        [row] = (await client.get("/api/workers")).json()["workers"]
        assert (row["name"], row["concurrency"], row["in_flight"]) == ("w-one", 7, 0)
        assert "w-one" in (await client.get("/workers")).text


async def test_strike_and_restore(docket: Docket, client: httpx.AsyncClient):
    """A strike added on the page is listed and can be restored from it."""
    await post(client, "/strikes/add", function="quick")
    await post(
        client, "/strikes/add", parameter="number", operator=">", type="int", value="5"
    )
    rows = (await client.get("/api/strikes")).json()["strikes"]
    assert {(r["function"], r["parameter"]) for r in rows} == {
        ("quick", None),
        (None, "number"),
    }
    for row in rows:
        await post(client, "/strikes/restore", id=row["id"])
    assert (await client.get("/api/strikes")).json()["strikes"] == []
    stale = await post(client, "/strikes/restore", id="nope")
    assert "not+in+place" in stale.headers["location"]
    nothing = await post(client, "/strikes/add")
    assert "Error" in nothing.headers["location"]


async def test_throughput_api(docket: Docket, client: httpx.AsyncClient):
    """The chart's data: one entry per minute, completed and failed counts."""
    await docket.add("quick")(1)
    await docket.add("fail_with")("z")
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    minutes = (await client.get("/api/throughput?minutes=60")).json()["minutes"]
    assert len(minutes) == 60
    assert sum(m["completed"] for m in minutes) == 1
    assert sum(m["failed"] for m in minutes) == 1
    overview = (await client.get("/api/overview")).json()
    assert overview["top_failing"] == [{"task": "fail_with", "failed": 1}]
    assert (await client.get("/api/throughput?minutes=0")).status_code == 400
