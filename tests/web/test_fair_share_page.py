"""FairShare on the dashboard: a task type's page lists its backlogs per value
(escaped) with their weights; a weight is set and cleared from there (with the
CSRF token), and a read-only dashboard shows no form and refuses the action."""

from __future__ import annotations

from typing import Annotated

from docket import Docket, FairShare
from tests.web.conftest import client_of, post


async def render(n: int, tenant: Annotated[str, FairShare()]) -> None: ...


async def test_backlogs_and_weights_on_the_task_type_page(docket: Docket):
    """15 tasks of one value and 3 of a hostile one: the page lists both backlogs
    (the first window of 10 went to the stream), markup escaped; setting a weight
    from the page stores it, the API shows it, and clearing it goes back to 1."""
    docket.register(render)
    hostile = "<script>alert(1)</script>"
    for n in range(15):
        await docket.add(render)(n, "acme")
    for n in range(3):
        await docket.add(render)(n, hostile)
    async with client_of(docket) as client:
        page = await client.get("/task-types/render")
        assert page.status_code == 200
        assert "<script>alert(1)</script>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert 'id="fair-share-weight"' in page.text
        answer = await client.get("/api/task-types/render")
        found = answer.json()["fair_share"]
        assert {(r["value"], r["queued"]) for r in found} == {("acme", 5), (hostile, 3)}

        done = await post(
            client,
            "/task-types/fair-share-weight",
            task="render",
            value="acme",
            weight="3",
            back="task-type",
        )
        assert done.status_code == 303
        assert done.headers["location"].startswith("/task-types/render?")
        assert await docket.get_fair_share_weight(render, "acme") == 3.0
        answer = await client.get("/api/task-types/render")
        assert answer.json()["fair_share_weights"] == [{"value": "acme", "weight": 3.0}]

        refused = await post(
            client,
            "/task-types/fair-share-weight",
            task="render",
            value="acme",
            weight="-2",
            back="task-type",
        )
        assert "Error" in (await client.get(refused.headers["location"])).text
        assert await docket.get_fair_share_weight(render, "acme") == 3.0

        await post(
            client,
            "/task-types/fair-share-weight",
            task="render",
            value="acme",
            clear="1",
            back="task-type",
        )
        assert await docket.get_fair_share_weight(render, "acme") == 1.0


async def test_a_read_only_dashboard_cannot_set_weights(docket: Docket):
    """Read-only: the page shows the backlogs but no weight form, and the action
    is refused; the weight is unchanged."""
    docket.register(render)
    for n in range(12):
        await docket.add(render)(n, "acme")
    async with client_of(docket, read_only=True) as client:
        page = await client.get("/task-types/render")
        assert page.status_code == 200 and "acme" in page.text
        assert 'id="fair-share-weight"' not in page.text
        refused = await post(
            client,
            "/task-types/fair-share-weight",
            task="render",
            value="acme",
            weight="3",
        )
        assert refused.status_code in (403, 405)
    assert await docket.get_fair_share_weight(render, "acme") == 1.0
