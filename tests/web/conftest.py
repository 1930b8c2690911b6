"""Fixtures of the dashboard tests: the app of the test's docket, and an HTTP
client talking to it in-process (ASGI) with a CSRF cookie of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from docket import Docket
from docket.web import create_app
from tests._support.servers import RedisServer


@pytest.fixture
async def client(docket: Docket) -> AsyncIterator[httpx.AsyncClient]:
    docket.register_collection("tests._support.console_tasks:tasks")
    app = create_app(docket, token="")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        yield c


def app_client(app: Any) -> httpx.AsyncClient:
    """An in-process client of the ASGI ``app``; use it with ``async with``."""
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")


def client_of(
    docket: Docket, page_size: int | None = None, **options: bool
) -> httpx.AsyncClient:
    """An in-process client of a dashboard app on ``docket`` (``create_app``'s
    boolean options, e.g. ``read_only=True``; ``page_size`` rows a page); use it
    with ``async with``."""
    app = create_app(docket, token="", **options)  # type: ignore[arg-type]
    if page_size is not None:
        app.state.console.settings.page_size = page_size
    return app_client(app)


async def csrf(client: httpx.AsyncClient, path: str = "/tasks") -> str:
    """The client's CSRF token (a page visit sets the cookie)."""
    response = await client.get(path)
    assert response.status_code == 200
    return client.cookies["docket_csrf"]


async def post(client: httpx.AsyncClient, path: str, **fields: str) -> httpx.Response:
    """A browser-style form post with the CSRF token."""
    token = await csrf(client)
    return await client.post(path, data={"csrf": token, **fields})


# The browser tests' fixtures (tests/web/test_browser*.py); test_browser is imported
# only when one is asked for: it skips its module where Chromium is missing.
@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless Chromium (a selenium WebDriver)."""
    from tests.web.test_browser import chromium

    with chromium() as driver:
        yield driver


@pytest.fixture
def stack(redis_server: RedisServer, docket_name: str, tmp_path: Path) -> Iterator[str]:
    """A worker process and a ``docket dashboard`` process; the dashboard's URL."""
    from tests.web.test_browser import running_stack

    with running_stack(redis_server.url, docket_name, tmp_path) as url:
        yield url
