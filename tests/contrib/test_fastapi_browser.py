"""The dashboard mounted in examples/fastapi_service.py, in a real browser
(headless Chromium): its live updates work under /admin/docket."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._support.servers import RedisServer
from tests.contrib.test_fastapi_service import service, worker
from tests.web.conftest import browser
from tests.web.test_browser import By, WebDriver, count, wait

pytestmark = pytest.mark.slow

__all__ = ["browser"]  # the fixture, shared with the dashboard's browser tests


def test_the_mounted_dashboard_is_live(
    browser: WebDriver, redis_server: RedisServer, docket_name: str, tmp_path: Path
) -> None:
    """The workers page, opened before any worker runs, shows the worker process
    once it starts, without a reload."""
    url = redis_server.url
    with service(url, docket_name, tmp_path) as (_, base):
        browser.get(f"{base}/admin/docket/workers")
        wait(browser, lambda d: count(d, "workers") == "0")
        with worker(url, docket_name, tmp_path, "live-worker"):
            wait(
                browser,
                lambda d: d.find_elements(
                    By.CSS_SELECTOR, '[data-worker="live-worker"]'
                ),
                30,
            )
            wait(browser, lambda d: count(d, "workers") == "1")
