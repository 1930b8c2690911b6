"""The task page of a suspended task: what it waits for and since when, and the
step names its checkpoint marked (escaped)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from docket import Checkpoint, Docket, Suspend, Worker
from tests._support.timings import FAST
from tests.conftest import eventually
from tests.web.test_task_page import client_of

started: list[str] = []


async def nap(suspend: Suspend = Suspend(), steps: Checkpoint = Checkpoint()) -> None:
    await steps.mark("sent <welcome>")
    await steps.mark("two\nlines")
    await steps.set("code", 1234)
    started.append("nap")
    await suspend.until(datetime.now(timezone.utc) + timedelta(hours=20))


async def suspend_nap(docket: Docket) -> None:
    started.clear()
    docket.register(nap)
    await docket.add(nap, key="nap-1")()
    async with Worker(docket, **FAST) as worker:
        task = asyncio.ensure_future(worker.run_forever())
        try:
            await eventually(lambda: started == ["nap"])
            await eventually(lambda: _scheduled(docket))
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def _scheduled(docket: Docket) -> bool:
    execution = await docket.get_execution("nap-1")
    return execution is not None and execution.state.value == "scheduled"


async def test_a_suspended_task_page_says_until_when_and_lists_its_steps(
    docket: Docket,
):
    """The page says the task is suspended until a time (20 hours on) since a
    moment ago, lists the marked step (escaped) and the value kept; the JSON
    form carries the same."""
    await suspend_nap(docket)
    async with client_of(docket) as client:
        page = await client.get("/tasks/nap-1")
        assert page.status_code == 200
        assert 'id="task-suspended"' in page.text
        assert 'data-step="sent &lt;welcome&gt;"' in page.text
        assert 'data-kept="code"' in page.text
        assert "sent <welcome>" not in page.text
        document = (await client.get("/api/tasks/nap-1")).json()
        suspended = document["suspended"]
        assert suspended["signal"] is None
        until = datetime.fromisoformat(suspended["until"])
        since = datetime.fromisoformat(suspended["since"])
        now = datetime.now(timezone.utc)
        assert timedelta(hours=19) < until - now <= timedelta(hours=20)
        assert timedelta(0) <= now - since < timedelta(minutes=1)
        assert document["steps"] == ["sent <welcome>", "two\nlines"]
        assert document["kept"] == ["code"]
