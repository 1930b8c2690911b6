"""A task waiting for a signal in a real browser (headless Chromium) against
``docket dashboard`` and a ``docket worker`` process on a real redis-server: its
page says "waiting on signal X since T", and the "send signal" form sends it with
a JSON payload; the worker then runs the task once with that payload."""

from __future__ import annotations

import pytest

from tests._support.console_tasks import calls
from tests._support.servers import RedisServer
from tests.web.test_browser import shot, wait, with_docket

pytestmark = pytest.mark.slow

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402


def test_sending_a_signal_from_the_task_page(
    browser: WebDriver, stack: str, redis_server: RedisServer, docket_name: str
):
    """The page of a task waiting for a signal names the signal (escaped) and
    since when; typing a JSON payload and pressing "send signal" releases it, the
    page says so, and the worker runs the task once with the payload."""
    url = redis_server.url
    with_docket(url, docket_name, lambda d: d.add("await_review", key="rev")("<7>"))
    browser.get(f"{stack}/tasks/rev")
    cell = wait(
        browser, lambda d: d.find_element(By.CSS_SELECTOR, ".signal-wait .waiting")
    )
    assert cell.text.startswith("waiting on signal review-<7> since ")
    shot(browser, "task-waiting-signal")
    form = browser.find_element(By.CSS_SELECTOR, "form.send-signal")
    form.find_element(By.NAME, "payload").send_keys('{"approved": true}')
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(browser, lambda d: "a waiting task received it" in d.page_source)

    def ran() -> list[list[object]]:
        return with_docket(url, docket_name, calls)

    wait(browser, lambda _: ["review", {"approved": True}] in ran(), 20)
    assert ran().count(["review", {"approved": True}]) == 1
    browser.get(f"{stack}/tasks/rev")
    wait(
        browser,
        lambda d: (
            d.find_element(By.ID, "task-state").get_attribute("data-state")
            == "completed"
        ),
        20,
    )
    received = browser.find_element(By.CSS_SELECTOR, ".signal-wait")
    assert received.get_attribute("data-signal-state") == "received"
