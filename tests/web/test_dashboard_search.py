"""Searching ``/tasks?q=``: matched on the stored key and task name before
anything is verified or decoded, only the rows shown are decoded, scheduled
tasks are searched in Redis without reading a payload, and a search of big
stream entries reads a bounded amount and says where to go on. (Server time
with 5,000 signed 100 KB tasks: ``python bench/dashboard.py --search-only``.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from docket import Docket
from docket._codec import now
from docket.web import create_app
from docket.web.views import SEARCH_BYTES
from tests._support.hostile import Marker


@pytest.fixture
async def unpickling(docket: Docket) -> AsyncIterator[httpx.AsyncClient]:
    """A dashboard that unpickles the arguments of every row it shows."""
    docket.register_collection("tests._support.console_tasks:tasks")
    app = create_app(docket, token="", unpickle=True)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://127.0.0.1"
    ) as client:
        yield client


async def test_a_search_decodes_only_the_rows_it_shows(
    docket: Docket, unpickling: httpx.AsyncClient, tmp_path: Path
):
    """A queued and a scheduled task whose arguments create a file when
    unpickled are not decoded by a search they do not match; listed without a
    search, they are (which shows the file would have appeared)."""
    queued, scheduled = tmp_path / "queued-decoded", tmp_path / "scheduled-decoded"
    for i in range(30):
        await docket.add("quick", key=f"plain-{i}")(i)
        await docket.add("quick", key=f"later-{i}", when=now() + timedelta(hours=1))(i)
    await docket.add("quick", key="trap-queued")(Marker(queued))
    later = now() + timedelta(hours=2)
    await docket.add("quick", key="trap-scheduled", when=later)(Marker(scheduled))
    for query in ("plain-1", "later-2", "crawl", "no-such-key"):
        found = (await unpickling.get("/api/tasks", params={"q": query})).json()
        keys = [row["key"] for s in ("queued", "scheduled") for row in found[s]["rows"]]
        assert not any(key.startswith("trap") for key in keys)
        assert (
            found["queued"]["searched"] == 31 and found["scheduled"]["searched"] == 31
        )
    assert not queued.exists() and not scheduled.exists()
    hit = (await unpickling.get("/api/tasks", params={"q": "trap-q"})).json()
    assert [row["key"] for row in hit["queued"]["rows"]] == ["trap-queued"]
    assert queued.exists() and not scheduled.exists()
    await unpickling.get("/api/tasks")
    assert scheduled.exists()


async def test_scheduled_tasks_are_searched_by_key_and_task_name(
    docket: Docket, client: httpx.AsyncClient
):
    """A search of future tasks finds a task name exactly and any part of a
    key (not a part of a task name), soonest first, a page at a time."""
    soon = now() + timedelta(minutes=5)
    for i in range(70):
        await docket.add(
            "quick", key=f"order-{i:03d}", when=soon + timedelta(seconds=i)
        )(i)
    await docket.add("fail_with", key="odd-one", when=soon)("x")
    by_name = (await client.get("/api/tasks?q=fail_with")).json()["scheduled"]
    assert [row["key"] for row in by_name["rows"]] == ["odd-one"]
    assert by_name["next"] is None and by_name["searched"] == 71
    assert (await client.get("/api/tasks?q=fail_")).json()["scheduled"]["rows"] == []
    first = (await client.get("/api/tasks?q=order")).json()["scheduled"]
    assert [r["key"] for r in first["rows"]] == [f"order-{i:03d}" for i in range(50)]
    rest = (
        await client.get(f"/api/tasks?q=order&scheduled_offset={first['next']}")
    ).json()["scheduled"]
    assert [r["key"] for r in rest["rows"]] == [f"order-{i:03d}" for i in range(50, 70)]
    assert rest["next"] is None


async def test_a_search_of_big_entries_reads_a_bounded_amount(
    docket: Docket, client: httpx.AsyncClient
):
    """Queued tasks of 200 KB each: one search reads about SEARCH_BYTES of them
    and hands back a cursor; following it reaches the match at the end."""
    blob = b"b" * 200_000
    count = SEARCH_BYTES // len(blob) * 3
    for i in range(count):
        await docket.add("quick", key=f"big-{i}")(blob)
    await docket.add("quick", key="the-needle")(blob)
    searched, pages, after = 0, 0, ""
    while True:
        found = (
            await client.get(
                "/api/tasks", params={"q": "needle", "queued_after": after}
            )
        ).json()["queued"]
        pages += 1
        searched += found["searched"]
        assert found["searched"] * len(blob) <= SEARCH_BYTES + 30 * len(blob)
        if found["rows"]:
            break
        after = found["next"]
        assert after, "the search ended without the match"
    assert [row["key"] for row in found["rows"]] == ["the-needle"]
    assert pages >= 3 and searched == count + 1
