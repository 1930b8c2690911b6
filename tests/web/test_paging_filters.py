"""Paging and filters on the dashboard: the scheduled list reaches any page
(first, prev, next, last, a page number) and "next" goes on after the last row
shown wherever it is now (no row repeated or skipped when earlier ones leave);
/failed and /dead filter by any part of the task name, exception type, key or
reason, say when nothing matches, and "purge matching" removes what the page
matched."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from html import unescape

from docket import Docket, Worker
from tests.web.conftest import client_of, post


async def later(n: int) -> None: ...


async def breaks(label: str) -> None:
    raise ValueError(f"breaks {label}")


def keys_in(html: str) -> list[str]:
    body = html.split('id="scheduled-rows"', 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'<tr data-key="([^"]+)"', body)


def link(html: str, name: str) -> str:
    found = re.search(rf'<a href="([^"]+)" data-page="{name}">', html)
    assert found, name
    return unescape(found.group(1))


async def test_scheduled_paging_reaches_every_page_without_repeats(docket: Docket):
    """Twelve scheduled tasks (six due at the same moment), five a page: next,
    prev, last, first and a page number; two earlier tasks cancelled between
    pages do not make "next" repeat or skip a row."""
    docket.register(later)
    start = datetime.now(timezone.utc) + timedelta(hours=1)
    for n in range(12):  # s-03 to s-08 are due at the same moment
        minutes = 3 if 3 <= n <= 8 else n
        await docket.add(
            later, key=f"s-{n:02d}", when=start + timedelta(minutes=minutes)
        )(n)
    async with client_of(docket, page_size=5) as client:
        first = (await client.get("/tasks")).text
        assert keys_in(first) == [f"s-{n:02d}" for n in range(5)]
        assert "1–5 of 12" in first
        await docket.cancel("s-00")
        await docket.cancel("s-01")
        second = (await client.get(link(first, "next"))).text
        assert keys_in(second) == [f"s-{n:02d}" for n in range(5, 10)]
        last = (await client.get(link(second, "last"))).text
        assert keys_in(last) == [f"s-{n:02d}" for n in range(7, 12)]
        assert "6–10 of 10" in last
        assert (await client.get(link(last, "prev"))).status_code == 200
        assert keys_in((await client.get(link(last, "first"))).text)[0] == "s-02"
        numbered = (await client.get("/tasks?scheduled_page=2")).text
        assert keys_in(numbered) == [f"s-{n:02d}" for n in range(7, 12)]
        bad = await client.get("/tasks?scheduled_after=s-03&scheduled_at=soon")
        assert bad.status_code == 400


async def test_failed_and_dead_filter_by_any_part(docket: Docket):
    """Filters match parts (of the task name, the exception type and the key;
    of the dead letter's task, key and reason); no match says so; purging
    the matches removes only them."""
    docket.register(breaks)
    for key in ("order-1", "order-2", "invoice-1"):
        await docket.add(breaks, key=key)(key)
    async with docket.redis() as redis:
        await redis.xadd(
            docket.stream_key,
            {
                b"key": b"dead-order-9",
                b"when": datetime.now().isoformat().encode(),  # no time zone
                b"function": b"breaks",
                b"args": b"",
                b"kwargs": b"",
            },
        )
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    async with client_of(docket) as client:
        orders = (await client.get("/api/failed?key=rder")).json()["tasks"]
        assert sorted(t["key"] for t in orders) == ["order-1", "order-2"]
        assert (
            len(
                (await client.get("/api/failed?task=reak&error_type=alue")).json()[
                    "tasks"
                ]
            )
            == 3
        )
        empty = await client.get("/failed?key=nothing-like-it")
        assert "No failed tasks match" in empty.text
        purged = await post(client, "/failed/purge", key="rder")
        assert purged.status_code == 303 and "Purged+2" in purged.headers["location"]
        left = (await client.get("/api/failed")).json()["tasks"]
        assert [t["key"] for t in left] == ["invoice-1"]
        dead = await client.get("/dead?reason=nothing-like-it")
        assert "No dead letters match" in dead.text
        assert (await client.get("/api/dead?key=x")).json()["letters"] == []
        for query in ("key=order", "reason=malformed", "task=brea"):
            letters = (await client.get(f"/api/dead?{query}")).json()["letters"]
            assert [d["key"] for d in letters] == ["dead-order-9"], query
        assert "dead-order-9" in (await client.get("/dead?key=order")).text
