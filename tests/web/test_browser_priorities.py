"""Priorities on the dashboard in a real browser (headless Chromium) against
``docket dashboard`` on a real redis-server: the Queued rows list the tasks
waiting on priority lanes with the stream's, in the order workers start them,
each marked with its priority (keys escaped); a task's page gives its priority."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import quote

import pytest

from docket import Docket
from tests._support.console_tasks import quick
from tests._support.dashboard import dashboard_process
from tests._support.servers import RedisServer
from tests.web.test_browser import shot, wait

pytestmark = pytest.mark.slow

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402

HOSTILE = "<b>urgent</b>"


def test_queued_rows_show_lane_tasks_with_their_priority(
    browser: WebDriver, redis_server: RedisServer, docket_name: str, tmp_path: Path
):
    """Tasks added at 5, 2, 9 (a key holding markup) and 7, no worker running:
    the Queued table lists them 9, 7, 5, 2 with marks p9, p7 and p2 (none for
    5), the markup in a key shown as text; the priority-9 task's page says 9."""

    async def fill() -> None:
        async with Docket(name=docket_name, url=redis_server.url) as docket:
            docket.register(quick)
            await docket.add(quick, key="plain")(1)
            await docket.add(quick, key="low", priority=2)(1)
            await docket.add(quick, key=HOSTILE, priority=9)(1)
            await docket.add(quick, key="high", priority=7)(1)

    asyncio.run(fill())
    with dashboard_process(redis_server.url, docket_name, tmp_path) as base:
        browser.get(f"{base}/tasks")

        def queued(driver: WebDriver) -> list[tuple[str, list[str]]] | None:
            rows = driver.find_elements(By.CSS_SELECTOR, "#queued-rows tr[data-key]")
            found = [
                (
                    row.get_attribute("data-key") or "",
                    [m.text for m in row.find_elements(By.CSS_SELECTOR, ".priority")],
                )
                for row in rows
            ]
            return found if len(found) == 4 else None

        assert wait(browser, queued) == [
            (HOSTILE, ["p9"]),
            ("high", ["p7"]),
            ("plain", []),
            ("low", ["p2"]),
        ]
        assert not browser.find_elements(By.CSS_SELECTOR, "#queued-rows b")
        shot(browser, "priorities")
        browser.get(f"{base}/tasks/{quote(HOSTILE, safe='')}")
        cell = wait(browser, lambda d: d.find_element(By.ID, "task-priority"))
        assert cell.text == "9"
