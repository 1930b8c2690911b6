"""A suspended task's page in a real browser (headless Chromium) against
``docket dashboard`` and a ``docket worker`` process on a real redis-server: it
says what the task waits for and since when, and lists its checkpoint's steps."""

from __future__ import annotations

import pytest

from tests._support.servers import RedisServer
from tests.web.test_browser import shot, wait, with_docket

pytestmark = pytest.mark.slow

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402


def test_a_suspended_task_page_in_a_real_browser(
    browser: WebDriver, stack: str, redis_server: RedisServer, docket_name: str
):
    """The worker process runs the task until it suspends for a day; its page
    shows "until <time>, since <time>" and the step its checkpoint marked,
    escaped; the task is scheduled."""
    with_docket(
        redis_server.url,
        docket_name,
        lambda d: d.add("onboard_later", key="later-ada")("ada"),
    )
    browser.get(f"{stack}/tasks/later-ada")

    def suspended(driver: WebDriver) -> bool:
        if not driver.find_elements(By.ID, "task-suspended"):
            driver.refresh()  # the worker has not suspended it yet
            return False
        return True

    wait(browser, suspended, 20)
    cell = browser.find_element(By.ID, "task-suspended")
    assert cell.text.startswith("until ") and ", since " in cell.text
    assert browser.find_element(By.ID, "task-steps").text == "welcome <ada>"
    state = browser.find_element(By.ID, "task-state").get_attribute("data-state")
    assert state == "scheduled"
    shot(browser, "task-suspended")
