"""A real browser (headless Chromium from Debian, driven by Selenium) against
``docket dashboard`` and a ``docket worker`` process on a real redis-server: each
page opens and stays live, a task appears and its progress bar moves to the end,
a failed task is replayed from the page and runs, a task is struck and restored,
and every page is saved as a screenshot (docs/images/dashboard-*.png)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from docket import Docket
from tests._support import ROOT
from tests._support.cli import WorkerProcess, http_get, wait_until
from tests._support.console_tasks import calls
from tests._support.servers import RedisServer
from tests._support.timings import FAST_CLI
from tests.web.test_dashboard_security import free_port

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# Where the screenshots go: a scratch folder, or docs/images when refreshing the
# docs' pictures (DOCKET_SCREENSHOTS=docs/images), so a test run leaves git clean.
SHOTS = ROOT / os.environ.get("DOCKET_SCREENSHOTS", "build/screenshots")
TASKS = "tests._support.console_tasks:tasks"
T = TypeVar("T")

webdriver = pytest.importorskip(
    "selenium.webdriver", reason="selenium is not installed"
)
if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip(
        "no Chromium here: scripts/test.sh installs the Debian packages chromium "
        "and chromium-driver (they cannot be downloaded at test time)",
        allow_module_level=True,
    )

from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = pytest.mark.slow


def with_docket(url: str, name: str, body: Callable[[Docket], Awaitable[T]]) -> T:
    async def main() -> T:
        async with Docket(name=name, url=url) as docket:
            docket.register_collection(TASKS)
            return await body(docket)

    return asyncio.run(main())


@contextmanager
def chromium() -> Iterator[WebDriver]:
    """A headless Chromium, quit when the block ends."""
    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1320,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


@contextmanager
def running_stack(url: str, docket_name: str, folder: Path) -> Iterator[str]:
    """A worker process and a ``docket dashboard`` process on ``url``; yields
    the dashboard's URL; both are stopped (by their pids) when the block ends."""
    worker = WorkerProcess(
        [
            "--url",
            url,
            "--docket",
            docket_name,
            "--tasks",
            TASKS,
            "--name",
            "browser-worker",
            *FAST_CLI,
        ],
        {},
        folder / "worker.log",
    )
    port = free_port()
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    environment.pop("DOCKET_DASHBOARD_TOKEN", None)
    log = open(folder / "dashboard.log", "wb")  # noqa: SIM115 (closed below)
    dashboard = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "docket",
            "dashboard",
            "--url",
            url,
            "--docket",
            docket_name,
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: http_get(port, "/api/counts"), timeout=20)
        yield f"http://127.0.0.1:{port}"
    finally:
        try:
            dashboard.terminate()
            dashboard.wait(timeout=15)
        finally:
            log.close()
            worker.signal()
            try:
                worker.wait()
            finally:
                worker.close()


def wait(
    driver: WebDriver, condition: Callable[[WebDriver], Any], seconds: float = 10
) -> Any:
    """Wait for ``condition``; live updates redraw elements, so a stale one is
    looked up again on the next poll."""
    return WebDriverWait(
        driver,
        seconds,
        poll_frequency=0.05,
        ignored_exceptions=[StaleElementReferenceException],
    ).until(condition)


def count(driver: WebDriver, name: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, f'[data-count="{name}"]').text


def shot(driver: WebDriver, page: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"dashboard-{page}.png"
    assert driver.save_screenshot(str(path)), path
    assert path.stat().st_size > 10_000


def test_the_dashboard_in_a_real_browser(
    browser: WebDriver, stack: str, redis_server: RedisServer, docket_name: str
):
    """What an operator sees and does, end to end, with screenshots."""
    url = redis_server.url

    # Workers: the worker process shows up, live.
    browser.get(f"{stack}/workers")
    wait(
        browser,
        lambda d: d.find_elements(By.CSS_SELECTOR, '[data-worker="browser-worker"]'),
    )
    wait(browser, lambda d: count(d, "workers") == "1")
    shot(browser, "workers")

    # Tasks: a task appears, its progress bar moves and it completes.
    browser.get(f"{stack}/tasks")
    wait(browser, lambda d: count(d, "queued") == "0")
    with_docket(url, docket_name, lambda d: d.add("crawl", key="crawler")(6, 0.4))
    row = '#running-rows tr[data-key="crawler"] .bar'
    seen: list[int] = []

    def progressed(d: WebDriver) -> bool:
        # Rows are redrawn on every live update: read the bar through the page.
        percent = d.execute_script(
            "var bar = document.querySelector(arguments[0]);"
            "return bar ? Number(bar.dataset.percent) : null;",
            row,
        )
        if percent is not None and (not seen or seen[-1] != percent):
            seen.append(percent)
        return len(seen) >= 3 and seen[-1] > seen[0]

    wait(browser, progressed, 15)
    shot(browser, "tasks")
    wait(
        browser,
        lambda d: d.execute_script(f"return !document.querySelector('{row}')"),
        15,
    )
    assert seen == sorted(seen) and seen[-1] > 0
    browser.get(f"{stack}/tasks?q=crawler")
    wait(
        browser,
        lambda d: d.find_elements(By.CSS_SELECTOR, '.lookup[data-state="completed"]'),
    )

    # Failed: a failure appears live, its traceback opens, replay runs it again.
    browser.get(f"{stack}/failed")
    with_docket(url, docket_name, lambda d: d.add("fail_once", key="flaky-1")("v1"))
    wait(browser, lambda d: count(d, "failed") == "1", 15)
    browser.refresh()
    summary = wait(
        browser,
        lambda d: d.find_element(
            By.CSS_SELECTOR, 'tr[data-task-key="flaky-1"] summary'
        ),
    )
    summary.click()
    assert (
        "first try with v1 fails"
        in browser.find_element(By.CSS_SELECTOR, 'tr[data-task-key="flaky-1"] pre').text
    )
    assert (
        "<pickled"
        in browser.find_element(
            By.CSS_SELECTOR, 'tr[data-task-key="flaky-1"] td.args'
        ).text
    )
    shot(browser, "failed")
    browser.find_element(
        By.CSS_SELECTOR,
        'tr[data-task-key="flaky-1"] button[data-action="/failed/replay"]',
    ).click()
    notice = wait(browser, lambda d: d.find_element(By.ID, "notice"))
    assert notice.text == "Replayed flaky-1"
    browser.get(f"{stack}/tasks?q=flaky-1")
    wait(
        browser,
        lambda d: d.find_elements(By.CSS_SELECTOR, '.lookup[data-state="completed"]'),
        15,
    )
    recorded = with_docket(url, docket_name, calls)
    assert recorded.count(["fail_once", "v1"]) == 2

    # Strikes: the page asks first (declined: nothing struck); strike a task
    # from the page, see it listed, restore it.
    browser.get(f"{stack}/strikes")
    form = browser.find_element(By.ID, "strike-form")
    form.find_element(By.NAME, "function").send_keys("quick")
    browser.execute_script("window.confirm = function () { return false; };")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert not browser.find_elements(By.ID, "notice")
    browser.execute_script("window.confirm = function () { return true; };")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(
        browser,
        lambda d: d.find_elements(
            By.CSS_SELECTOR, '#strike-rows tr[data-function="quick"]'
        ),
    )
    assert browser.find_element(By.ID, "notice").text == "Struck quick"

    async def struck(docket: Docket) -> bool:
        await docket.wait_for_strikes_loaded()
        return "quick" in docket.strike_list.struck_functions

    assert with_docket(url, docket_name, struck)
    shot(browser, "strikes")
    browser.find_element(
        By.CSS_SELECTOR, '#strike-rows tr[data-function="quick"] button'
    ).click()
    wait(
        browser,
        lambda d: (
            not d.find_elements(
                By.CSS_SELECTOR, '#strike-rows tr[data-function="quick"]'
            )
        ),
    )
    assert not with_docket(url, docket_name, struck)

    # Dead letters: an empty state.
    browser.get(f"{stack}/dead")
    assert "No dead letters" in browser.find_element(By.TAG_NAME, "main").text
    shot(browser, "dead")

    # Overview: live counts and the throughput chart with what ran above.
    browser.get(f"{stack}/")
    wait(browser, lambda d: d.find_element(By.ID, "chart").get_attribute("data-drawn"))
    wait(browser, lambda d: count(d, "workers") == "1")
    assert "fail_once" in browser.find_element(By.ID, "top-failing").text
    # The chart: a time axis, and the failed series drawn (dots where > 0) even
    # where completed runs would cover it.
    labels = browser.find_elements(By.CSS_SELECTOR, "#chart .time-axis text")
    assert len(labels) >= 2 and all(":" in label.text for label in labels)
    assert browser.find_elements(By.CSS_SELECTOR, '#chart [data-series="failed"]')
    assert browser.find_elements(By.CSS_SELECTOR, "#chart circle.failed")
    # Task types: each that ran, linked to its page.
    types = browser.find_element(By.ID, "task-types").text
    assert "fail_once" in types and "crawl" in types
    shot(browser, "overview")
