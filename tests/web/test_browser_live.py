"""The dashboard in headless Chromium while it updates itself: a human-speed
click on "cancel" works every time and a delay being typed survives the updates;
the outage banner shows within 2 s of Redis going away and goes within 2 s of its
return (and a page opened meanwhile says Redis is unreachable); a failing task's
page, opened from /failed, shows each attempt's traceback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from docket import Docket
from tests._support.servers import RedisServer
from tests.web.test_browser import running_stack, wait, with_docket

pytestmark = pytest.mark.slow

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402

COUNT_UPDATES = """
window.__updates = 0;
window.confirm = function (message) {
  sessionStorage.setItem("asked", message); return true;
};
document.addEventListener("docket:live", function () { window.__updates += 1; });
"""


def updates(driver: WebDriver) -> int:
    return int(driver.execute_script("return window.__updates || 0"))


def open_live(driver: WebDriver, url: str) -> None:
    """Open ``url`` and wait until two live updates have been applied."""
    driver.get(url)
    driver.execute_script(COUNT_UPDATES)
    wait(driver, lambda d: updates(d) >= 2)


def add_later(docket: Docket, keys: list[str]) -> None:
    async def body() -> None:
        when = datetime.now(timezone.utc) + timedelta(hours=1)
        for key in keys:
            await docket.add("quick", key=key, when=when)(1)

    return body()  # type: ignore[return-value]


@pytest.fixture
def busy(stack: str, redis_server: RedisServer, docket_name: str) -> Iterator[str]:
    """The stack with six tasks scheduled an hour ahead and one running task
    reporting progress ten times a second (so every update changes a row)."""
    url = redis_server.url
    keys = [f"later-{n}" for n in range(6)]
    with_docket(url, docket_name, lambda d: add_later(d, keys))
    with_docket(url, docket_name, lambda d: d.add("crawl", key="busy")(600, 0.05))
    try:
        yield stack
    finally:
        with_docket(url, docket_name, lambda d: d.cancel("busy"))


def test_a_human_click_on_cancel_works_every_time(browser: WebDriver, busy: str):
    """Six cancels, each pressed for a quarter of a second as a person does,
    while the running task's row changes on every update: each one lands."""
    for n in range(6):
        open_live(browser, f"{busy}/tasks")
        button = browser.find_element(
            By.CSS_SELECTOR,
            f'#scheduled-rows tr[data-key="later-{n}"] button[data-action="/tasks/cancel"]',
        )
        ActionChains(browser).move_to_element(button).pause(0.3).click_and_hold().pause(
            0.25
        ).release().perform()
        notice = wait(browser, lambda d: d.find_element(By.ID, "notice"))
        assert notice.text == f"Cancelled later-{n}", n
        asked = browser.execute_script("return sessionStorage.getItem('asked')")
        assert asked == f"Cancel later-{n}?"


def test_a_delay_being_typed_survives_updates(browser: WebDriver, busy: str):
    """A delay typed one key per live update stays in its field, which keeps
    the focus; submitting it reschedules the task."""
    open_live(browser, f"{busy}/tasks")
    row = '#scheduled-rows tr[data-key="later-5"]'
    field = browser.find_element(By.CSS_SELECTOR, f'{row} input[name="delay"]')
    field.click()
    for key in "120":
        seen = updates(browser)
        field.send_keys(key)
        wait(browser, lambda d, s=seen: updates(d) >= s + 2)
    assert field.get_attribute("value") == "120"
    assert browser.switch_to.active_element == field
    field.submit()
    notice = wait(browser, lambda d: d.find_element(By.ID, "notice"))
    assert notice.text.startswith("later-5 rescheduled to ")


def banner_shown(driver: WebDriver) -> bool:
    return bool(
        driver.execute_script(
            "var b = document.getElementById('outage'); return b && !b.hidden;"
        )
    )


def test_the_outage_banner_comes_and_goes_with_redis(
    browser: WebDriver, docket_name: str, tmp_path: Path
):
    """Redis stopped under an open page: the banner within 2 s; started again:
    gone within 2 s; a page opened while Redis is down is a page saying so."""
    server = RedisServer().start()
    try:
        with running_stack(server.url, docket_name, tmp_path) as base:
            open_live(browser, f"{base}/tasks")
            assert not banner_shown(browser)
            server.stop()
            stopped = time.monotonic()
            wait(browser, banner_shown, 5)
            assert time.monotonic() - stopped < 2.0
            assert "Redis unreachable" in browser.find_element(By.ID, "outage").text
            server.start()
            started = time.monotonic()
            wait(browser, lambda d: not banner_shown(d), 5)
            assert time.monotonic() - started < 2.0

            server.stop()
            browser.get(f"{base}/failed")
            heading = browser.find_element(By.TAG_NAME, "h1").text
            assert heading == f"Redis unreachable at {server.url}"
            server.start()
            wait(browser, lambda d: d.find_elements(By.ID, "failed-rows"), 15)
    finally:
        server.close()


def test_a_failing_tasks_page_from_failed(
    browser: WebDriver, stack: str, redis_server: RedisServer, docket_name: str
):
    """A task that failed on both attempts appears on /failed live; its key
    opens its page, where each attempt's traceback opens with a click."""
    open_live(browser, f"{stack}/failed")
    url = redis_server.url
    with_docket(url, docket_name, lambda d: d.add("gives_up", key="gave-up")("x"))
    link = wait(
        browser,
        lambda d: d.find_element(By.CSS_SELECTOR, 'tr[data-task-key="gave-up"] a.key'),
        15,
    )
    link.click()
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, '[data-state="failed"]'))
    attempts = browser.find_elements(By.CSS_SELECTOR, "#attempt-rows tr[data-attempt]")
    assert len(attempts) == 2
    for number, row in enumerate(attempts, start=1):
        row.find_element(By.TAG_NAME, "summary").click()
        trace = row.find_element(By.TAG_NAME, "pre").text
        assert f"attempt {number} of x fails" in trace
        assert "Traceback" in trace
    assert "attempt 2 of x fails" in browser.find_element(By.ID, "task-error").text
    assert browser.find_elements(
        By.CSS_SELECTOR, 'button[data-action="/failed/replay"]'
    )
