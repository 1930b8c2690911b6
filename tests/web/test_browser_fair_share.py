"""The fair-share panel of a task type's page in a real browser (headless
Chromium) against ``docket dashboard`` on a real redis-server: the backlogs per
value (escaped), a weight set from the form and cleared with its button."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from docket import Docket
from tests._support.dashboard import dashboard_process
from tests._support.fair_tasks import render
from tests._support.servers import RedisServer
from tests.web.test_browser import shot, wait

pytestmark = pytest.mark.slow

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402

HOSTILE = "<b>tenant</b>"


def weight_of(url: str, name: str, value: str) -> float:
    async def read() -> float:
        async with Docket(name=name, url=url) as docket:
            return await docket.get_fair_share_weight(render, value)

    return asyncio.run(read())


def test_weights_set_and_cleared_from_the_task_type_page(
    browser: WebDriver, redis_server: RedisServer, docket_name: str, tmp_path: Path
):
    """15 tasks of "acme" and 3 of a value holding markup (no worker runs them):
    the panel lists both backlogs, the markup shown as text; typing a weight for
    acme in the form stores it (every worker reads it at its next release), and
    its clear button puts it back to 1."""

    async def fill() -> None:
        async with Docket(name=docket_name, url=redis_server.url) as docket:
            docket.register(render)
            for n in range(15):
                await docket.add(render)(n, "acme")
            for n in range(3):
                await docket.add(render)(n, HOSTILE)

    asyncio.run(fill())
    with dashboard_process(redis_server.url, docket_name, tmp_path) as base:
        browser.get(f"{base}/task-types/render")
        panel = wait(browser, lambda d: d.find_element(By.ID, "fair-share"))
        rows = {
            row.get_attribute("data-key"): row.text
            for row in panel.find_elements(By.CSS_SELECTOR, "tbody tr")
        }
        assert rows["acme"].split() == ["acme", "5", "1"]
        assert rows[HOSTILE].startswith(HOSTILE)  # shown as text, not markup
        assert not panel.find_elements(By.CSS_SELECTOR, "b")

        form = browser.find_element(By.ID, "fair-share-weight")
        form.find_element(By.NAME, "value").send_keys("acme")
        form.find_element(By.NAME, "weight").send_keys("3")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait(browser, lambda d: "set to 3" in d.page_source)
        assert weight_of(redis_server.url, docket_name, "acme") == 3.0
        shot(browser, "fair-share")

        clear = wait(
            browser,
            lambda d: d.find_element(
                By.CSS_SELECTOR, '[data-key="weight-acme"] button[type=submit]'
            ),
        )
        clear.click()
        wait(browser, lambda d: "cleared" in d.page_source)
        assert weight_of(redis_server.url, docket_name, "acme") == 1.0
