"""A suspended task in the terminal: ``docket show`` and ``docket snapshot`` say
what its run waits for and since when (``--json`` too), and ``docket.snapshot()``
lists it among the suspended."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from docket import Docket
from docket.cli import app
from tests._support.servers import RedisServer
from tests.web.test_task_page_suspended import suspend_nap

pytestmark = pytest.mark.usefixtures("restore_logging")


async def invoke(*args: str) -> str:
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


async def test_show_and_snapshot_say_a_task_is_suspended(
    redis_server: RedisServer, docket_name: str
):
    """``show`` prints "Suspended: until <time>, since <when>" and the step names
    (one a line, a line break in a name escaped);
    ``snapshot`` marks the row "(suspended)" with the time since, and its JSON
    carries what it waits for."""
    async with Docket(name=docket_name, url=redis_server.url) as docket:
        await suspend_nap(docket)
        where = ["--url", redis_server.url, "--docket", docket_name]
        shown = await invoke("show", "nap-1", *where)
        assert "Suspended: until " in shown
        assert "Checkpoint:\n  sent <welcome>\n  two\\nlines\n" in shown
        assert "Checkpoint values:\n  code" in shown
        table = await invoke("snapshot", *where)
        row = next(line for line in table.splitlines() if "nap-1" in line)
        assert "(suspended)" in row and "ago" in row
        document = json.loads(await invoke("snapshot", "--json", *where))
        (future,) = document["future"]
        assert future["key"] == "nap-1"
        assert future["suspended"]["kind"] == "time"
        assert future["suspended"]["until"] == future["when"].replace(
            "+00:00", "+00:00"
        )


async def test_the_snapshot_api_lists_suspended_tasks(docket: Docket):
    """``docket.snapshot().suspended`` maps the key of a suspended task to what
    it waits for; tasks that merely wait for their time are not in it."""
    await suspend_nap(docket)

    async def plain() -> None: ...

    docket.register(plain)
    await docket.add(plain, when=datetime.now(timezone.utc) + timedelta(hours=1))()
    snap = await docket.snapshot()
    assert len(snap.future) == 2
    assert list(snap.suspended) == ["nap-1"]
    assert snap.suspended["nap-1"].kind == "time"


async def test_suspension_points_are_read_a_bounded_chunk_at_a_time(docket: Docket):
    """``broker.steps.latest`` (what a snapshot reads for its future and waiting
    tasks) asks for the checkpoints a chunk of keys at a time and still finds
    the suspended run among keys without one, whatever the chunk's size."""
    await suspend_nap(docket)
    keys = ["none-a", "none-b", "nap-1", "none-c"]
    for chunk in (1, 2, 3, 1000):
        found = await docket.broker.steps.latest(keys, chunk=chunk)
        assert list(found) == ["nap-1"] and found["nap-1"].kind == "time"
    assert await docket.broker.steps.latest([]) == {}
