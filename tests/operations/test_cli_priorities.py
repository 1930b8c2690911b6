"""``docket snapshot`` with priorities, against a real redis-server: the due
tasks waiting on priority lanes are listed with the stream's, in the order
workers start them, with their priority (a Priority column, a ``priority``
field in --json) only when a task listed has one other than 5."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from docket import Docket
from tests._support import cli_tasks
from tests._support.lanes import add_spread
from tests._support.servers import RedisServer
from tests.operations.test_cli_commands import TASKS, invoke, with_docket

pytestmark = pytest.mark.usefixtures("restore_logging")


async def spread(docket: Docket) -> None:
    """Added 5, 2, 9, 5, 7, 9, then one at 9 for tomorrow: workers start 9, 9, 7,
    5, 5, 2."""
    await add_spread(docket, cli_tasks.greet, "x")
    tomorrow = datetime.now(timezone.utc) + timedelta(days=1)
    await docket.add(cli_tasks.greet, key="later9", when=tomorrow, priority=9)("x")


def test_snapshot_lists_lane_tasks_in_start_order(
    redis_server: RedisServer, docket_name: str
):
    """The table lists the lane tasks among the due ones, highest priority
    first, the scheduled one after them, with a Priority column; --json lists
    them in the same order, each with ``priority`` when it is not 5, and -n 3
    keeps the first three workers would start."""
    url = redis_server.url
    with_docket(url, docket_name, spread)
    output = invoke(url, docket_name, "snapshot", "--tasks", TASKS).output
    keys = re.findall(r"\b(a5|b2|c9|d5|e7|f9|later9)\b", output)
    assert keys == ["c9", "f9", "e7", "a5", "d5", "b2", "later9"]
    assert "Priority" in output
    assert re.search(r"\bc9\b.*\b9\s*$", output, re.MULTILINE)
    document = json.loads(
        invoke(url, docket_name, "snapshot", "--tasks", TASKS, "--json").output
    )
    future = [(task["key"], task.get("priority")) for task in document["future"]]
    assert future == [
        ("c9", 9),
        ("f9", 9),
        ("e7", 7),
        ("a5", None),
        ("d5", None),
        ("b2", 2),
        ("later9", 9),
    ]
    first = json.loads(
        invoke(
            url, docket_name, "snapshot", "--tasks", TASKS, "--json", "-n", "3"
        ).output
    )["future"]
    assert [task["key"] for task in first] == ["c9", "f9", "e7"]


def test_a_plain_snapshot_has_no_priority_column(
    redis_server: RedisServer, docket_name: str
):
    """Only priority-5 tasks: no Priority column, no ``priority`` field."""
    url = redis_server.url

    async def plain(docket: Docket) -> None:
        await docket.add(cli_tasks.greet, key="p1")("one")

    with_docket(url, docket_name, plain)
    output = invoke(url, docket_name, "snapshot", "--tasks", TASKS).output
    assert "p1" in output and "Priority" not in output
    document = json.loads(
        invoke(url, docket_name, "snapshot", "--tasks", TASKS, "--json").output
    )
    assert "priority" not in document["future"][0]
