"""The task page of workflow tasks: a waiting task says how many of its parents
it still waits on and links to each; a parent lists and links its followers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from docket import Docket
from tests.web.test_task_page import answer, client_of, run_all


async def test_a_waiting_task_page_shows_its_parents_and_a_parent_its_followers(
    docket: Docket,
):
    """ "waiting on 1 of 2", a link to each parent with the state it ended in, a
    cancel action only; the parent's page links back to the follower; the JSON
    form carries both."""
    docket.register(answer)
    await docket.add(answer, key="done")(1)
    await run_all(docket)
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    await docket.add(answer, key="later<x>", when=later)(2)
    await docket.add(answer, key="join", after=["done", "later<x>"])(3)
    async with client_of(docket) as client:
        page = await client.get("/tasks/join")
        assert page.status_code == 200
        assert 'data-state="waiting"' in page.text
        assert "waiting on 1 of 2" in page.text
        assert 'href="/tasks/done"' in page.text
        assert 'data-parent="done" data-ended="completed"' in page.text
        assert "later<x>" not in page.text  # escaped
        assert 'data-parent="later&lt;x&gt;" data-ended=""' in page.text
        assert 'data-action="/tasks/cancel"' in page.text
        assert 'data-action="/tasks/run-now"' not in page.text
        parent = await client.get("/tasks/later%3Cx%3E")
        assert 'data-follower="join"' in parent.text
        assert 'href="/tasks/join"' in parent.text
        document = (await client.get("/api/tasks/join")).json()
        assert document["parents"] == {"done": "completed", "later<x>": None}
        assert document["actions"] == ["cancel"]
        followers = (await client.get("/api/tasks/done")).json()["followers"]
        assert followers == []  # a parent that ended has no one waiting any more


async def test_the_tasks_page_lists_waiting_tasks_with_their_parents(docket: Docket):
    """The tasks page has a section of tasks waiting for their parents: "waiting on
    1 of 2" with a link to the parent still awaited, a cancel action; the JSON form
    lists them too."""
    docket.register(answer)
    await docket.add(answer, key="first")(1)
    await run_all(docket)
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    await docket.add(answer, key="second", when=later)(2)
    await docket.add(answer, key="joined", after=["first", "second"])(3)
    async with client_of(docket) as client:
        page = await client.get("/tasks")
        assert page.status_code == 200
        section = page.text[page.text.index('id="waiting-rows"') :]
        assert 'data-key="joined"' in section
        assert 'data-awaited="1" data-total="2"' in section
        assert "waiting on 1 of 2" in section
        assert 'href="/tasks/second"' in section
        document = (await client.get("/api/tasks")).json()
        assert [row["key"] for row in document["waiting"]["rows"]] == ["joined"]
