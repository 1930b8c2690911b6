"""The dashboard's tasks page with priorities, on both backends: a docket whose
due tasks wait at more than one priority shows the depth per priority (page and
/api/tasks); a plain docket's page shows nothing new."""

from __future__ import annotations

import httpx

from docket import Docket
from tests._support.console_tasks import quick


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
