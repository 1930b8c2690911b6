"""The dashboard's tasks page with priorities, on both backends: a docket whose
due tasks wait at more than one priority shows the depth per priority (page and
/api/tasks); the Queued rows list the tasks waiting on priority lanes with the
stream's, in the order workers start them, each marked with its priority, paged
and searched like the rest; a task's page gives its priority; a plain docket's
page shows nothing new."""

from __future__ import annotations

import re
from html import unescape

import httpx
import pytest

from docket import Docket
from docket._broker.listing import Depths, ViewStore
from tests._support.console_tasks import quick
from tests._support.lanes import add_spread
from tests.web.conftest import client_of


def queued_keys(html: str) -> list[str]:
    body = html.split('id="queued-rows"', 1)[1].split("</tbody>", 1)[0]
    return [unescape(k) for k in re.findall(r'<tr data-key="([^"]+)"', body)]


async def add_quick_spread(docket: Docket) -> None:
    """The spread of quick tasks, the last keyed "f9 &x=#" (a key the next page's
    link must encode): workers start c9, it, e7, a5, d5, b2."""
    await add_spread(docket, quick, 1, last="f9 &x=#")


async def test_depth_per_priority_only_with_several(
    docket: Docket, client: httpx.AsyncClient
) -> None:
    """Plain tasks only: no priority line. Then one task at 9 and two at 2 beside
    three plain ones: 'due by priority: 9: 1, 5: 3, 2: 2', in the page and the API."""
    for _ in range(3):
        await docket.add(quick)(1)
    page = await client.get("/tasks")
    assert page.status_code == 200 and 'id="by-priority"' not in page.text
    assert "due_by_priority" not in (await client.get("/api/tasks")).json()
    await docket.add(quick, priority=9)(1)
    await docket.add(quick, priority=2)(1)
    await docket.add(quick, priority=2)(1)
    page = await client.get("/tasks")
    assert "due by priority: 9: 1, 5: 3, 2: 2" in page.text
    api = (await client.get("/api/tasks")).json()
    assert api["due_by_priority"] == {"9": 1, "5": 3, "2": 2}


async def test_the_task_page_gives_a_priority_other_than_5(
    docket: Docket, client: httpx.AsyncClient
) -> None:
    """A task added at priority 9 shows its priority on its page (and 9 in
    /api/tasks/KEY); a plain task's page has no priority row, its API says 5."""
    await docket.add(quick, key="urgent", priority=9)(1)
    await docket.add(quick, key="plain")(1)
    page = await client.get("/tasks/urgent")
    assert 'id="task-priority" data-priority="9"' in page.text
    assert (await client.get("/api/tasks/urgent")).json()["priority"] == 9
    plain = await client.get("/tasks/plain")
    assert plain.status_code == 200 and 'id="task-priority"' not in plain.text
    assert (await client.get("/api/tasks/plain")).json()["priority"] == 5


async def test_queued_rows_list_lane_tasks_in_start_order(
    docket: Docket, client: httpx.AsyncClient
) -> None:
    """Tasks waiting on priority lanes are Queued rows beside the stream's, in
    the order workers start them (highest priority first, the longest due first
    among equals), each marked with its priority when it is not 5; /api/tasks
    gives every row's priority; the queued count (/api/counts, the figures on
    every page) counts them all."""
    await add_quick_spread(docket)
    assert (await client.get("/api/counts")).json()["queued"] == 6
    page = await client.get("/tasks")
    assert queued_keys(page.text) == ["c9", "f9 &x=#", "e7", "a5", "d5", "b2"]
    marks = re.findall(r'class="priority" data-priority="(\d)"', page.text)
    assert marks == ["9", "9", "7", "2"]
    rows = (await client.get("/api/tasks")).json()["queued"]["rows"]
    assert [(r["key"], r["priority"]) for r in rows] == [
        ("c9", 9),
        ("f9 &x=#", 9),
        ("e7", 7),
        ("a5", 5),
        ("d5", 5),
        ("b2", 2),
    ]


async def test_a_plain_docket_has_no_priority_marks(
    docket: Docket, client: httpx.AsyncClient
) -> None:
    """Only priority-5 tasks: the Queued rows are the stream's, unmarked."""
    for n in range(3):
        await docket.add(quick, key=f"plain-{n}")(n)
    page = await client.get("/tasks")
    assert queued_keys(page.text) == ["plain-0", "plain-1", "plain-2"]
    assert 'class="priority"' not in page.text


async def test_queued_pages_go_across_lanes_and_the_stream(docket: Docket) -> None:
    """Two rows a page: "next page" goes from lane to lane and through the
    stream without repeating or skipping a row, even when the first lane task
    starts (leaves its lane) between pages; a search finds a lane task by key;
    a malformed place is a 400."""
    await add_quick_spread(docket)
    async with client_of(docket, page_size=2) as client:
        seen: list[str] = []
        url = "/tasks"
        for _ in range(10):
            page = await client.get(url)
            assert page.status_code == 200, page.text
            seen += queued_keys(page.text)
            found = re.search(r'href="([^"]+)">next page</a>', page.text)
            if found is None or "queued_after" not in found.group(1):
                break
            url = unescape(found.group(1))
            if seen == ["c9", "f9 &x=#"]:  # a worker takes c9 meanwhile
                await docket.broker.lanes.dispatch("somebody", 1, 60.0, None)
        assert seen == ["c9", "f9 &x=#", "e7", "a5", "d5", "b2"]
        searched = await client.get("/tasks", params={"q": "e7"})
        assert queued_keys(searched.text) == ["e7"]
        for bad in ("9:x:k", "5:1.0:k", "0:1.0:k", "12:1.0:k", "9:nan:k", "9-0:"):
            response = await client.get("/tasks", params={"queued_after": bad})
            assert response.status_code == 400, bad


async def test_the_tasks_page_reads_the_depths_once(
    docket: Docket, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One tasks page (or /api/tasks) reads the docket's depths once, for its
    figures per priority and its scheduled total alike (it read them twice)."""
    reads: list[str] = []
    real = ViewStore.counts

    async def counted(self: ViewStore) -> Depths:
        reads.append("counts")
        return await real(self)

    monkeypatch.setattr(ViewStore, "counts", counted)
    await add_quick_spread(docket)
    page = await client.get("/tasks")
    assert page.status_code == 200 and "due by priority: 9: 2, 7: 1" in page.text
    assert reads == ["counts"]
    reads.clear()
    assert (await client.get("/api/tasks")).json()["due_by_priority"]["9"] == 2
    assert reads == ["counts"]
