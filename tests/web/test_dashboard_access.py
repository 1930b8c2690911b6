"""Who may talk to the dashboard, against a real ``docket dashboard`` process and
redis-server: only the Host names it answers to (DNS rebinding), only with the
token when one is set (pages, /api/ and the live stream), sessions that end at
sign-out and expire, sign-out from this dashboard only, and a limit on wrong
tokens."""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.routing import Mount, Route

from docket import Docket
from docket.web import create_app
from tests._support.dashboard import (
    dashboard_process,
    dashboard_processes,
    free_port,
)
from tests._support.servers import RedisServer
from tests.web.conftest import csrf

TOKEN = "access-test-token-0123456789"
SHARED = f"access-{uuid.uuid4().hex[:8]}"  # the docket of the shared dashboards
FOREIGN = {"host": "rebind.example", "origin": "http://rebind.example"}


def every_route() -> list[tuple[str, str]]:
    """(method, path) of every route the dashboard has, read from the app."""
    app = create_app(Docket("routes", url="memory://routes"), token="")
    found: list[tuple[str, str]] = [("GET", "/no-such-page")]
    for route in app.routes:
        if isinstance(route, Route):
            path = re.sub(r"\{[^}]*\}", "no-such-thing", route.path)
            found += [(m, path) for m in sorted(route.methods or ()) if m != "HEAD"]
        elif isinstance(route, Mount):
            found.append(("GET", f"{route.path}/docket.js"))
    assert ("POST", "/strikes/add") in found and ("GET", "/api/events") in found
    return found


def found(path: str) -> int:
    """What a signed-in read of ``path`` answers: 404 for a page about
    something that does not exist (``/tasks/no-such-thing``), else 200."""
    return 404 if "no-such-thing" in path else 200


async def answer(
    client: httpx.AsyncClient, method: str, path: str, **kw: object
) -> int:
    """The status of one request (a stream is closed once its headers arrive)."""
    async with client.stream(method, path, **kw) as response:  # type: ignore[arg-type]
        return response.status_code


@pytest.fixture(scope="module")
def dashboards(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """Two ``docket dashboard`` processes on one docket, shared by this
    module's tests: without a token, and with one; their base URLs. (The rate
    limit test has a dashboard of its own.)"""
    folder = tmp_path_factory.mktemp("dashboards")
    configs = [((), {}), ((), {"DOCKET_DASHBOARD_TOKEN": TOKEN})]
    with dashboard_processes(redis_server.url, SHARED, folder, configs) as bases:
        yield bases[0], bases[1]


async def test_a_foreign_host_gets_400_on_every_route(
    dashboards: tuple[str, str], redis_server: RedisServer
):
    """A page on a foreign name resolving to 127.0.0.1 (Host and Origin
    ``rebind.example``) gets 400 from every route of both dashboards, with or
    without the action header or the token; nothing is struck. The loopback
    names are answered."""
    headers = {**FOREIGN, "x-docket-action": "1", "authorization": f"Bearer {TOKEN}"}
    form = {"function": "rebound", "parameter": "p", "type": "str", "value": "v"}
    for base in dashboards:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            for method, path in every_route():
                for sent in (FOREIGN, headers):
                    body = form if method == "POST" else None
                    status = await answer(client, method, path, headers=sent, data=body)
                    assert status == 400, (base, method, path, sent)
            port = base.rsplit(":", 1)[1]
            for host in ("127.0.0.1", "localhost", "[::1]", f"LOCALHOST.:{port}"):
                page = await client.get("/login", headers={"host": host})
                assert page.status_code == 200, host
            refused = await client.get("/login", headers=FOREIGN)
            assert "rebind.example" in refused.text and "--allowed-host" in refused.text
            for bad in ("", "a b", "127.0.0.1@rebind.example", "127.0.0.1:x"):
                assert (
                    await client.get("/login", headers={"host": bad})
                ).status_code == 400
    async with Docket(SHARED, url=redis_server.url) as docket:
        await docket.wait_for_strikes_loaded()
        assert not docket.strike_list.parameter_strikes


async def test_allowed_hosts_from_the_option_and_the_environment(
    redis_server: RedisServer, docket_name: str, tmp_path: Path
):
    """``--allowed-host`` (repeatable) and ``DOCKET_DASHBOARD_ALLOWED_HOSTS``
    (comma-separated) add names; the others still get 400; a name with a port
    is a usage error."""
    env = {"DOCKET_DASHBOARD_ALLOWED_HOSTS": "env-one.example, Env-Two.example"}
    args = ["--allowed-host", "ops.example", "--allowed-host", "10.0.0.7"]
    with dashboard_process(
        redis_server.url, docket_name, tmp_path, *args, env=env
    ) as base:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            for host in (
                "ops.example",
                "ops.example:8787",
                "10.0.0.7",
                "env-two.example",
            ):
                assert (
                    await client.get("/", headers={"host": host})
                ).status_code == 200
            for host in ("other.example", "ops.example.evil", "x.ops.example"):
                assert (
                    await client.get("/", headers={"host": host})
                ).status_code == 400


async def test_with_a_token_every_read_needs_it(dashboards: tuple[str, str]):
    """With a token, every page sends an anonymous browser to /login and every
    /api/ route (the live stream included) answers 401; the token as a bearer,
    or a session, opens them. /login and /static/ stay open."""
    _, base = dashboards
    gets = [path for method, path in every_route() if method == "GET"]
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        for path in gets:
            status = await answer(client, "GET", path)
            if path == "/login" or path.startswith("/static/"):
                assert status == 200, path
            elif path.startswith("/api/"):
                assert status == 401, path
            elif path != "/no-such-page":
                assert status == 303, path
        page = await client.get("/tasks")
        assert page.headers["location"] == "/login"
        bearer = {"authorization": f"Bearer {TOKEN}"}
        for path in gets:
            if path != "/no-such-page":
                status = await answer(client, "GET", path, headers=bearer)
                assert status == found(path), path
        token = await csrf(client, "/login")
        await client.post("/login", data={"token": TOKEN, "csrf": token})
        for path in gets:
            if path != "/no-such-page":
                assert await answer(client, "GET", path) == found(path), path


async def test_public_read_opens_reads_only(
    redis_server: RedisServer, docket_name: str, tmp_path: Path
):
    """``--public-read`` lets anyone read pages, /api/ and the stream; actions
    still need the token."""
    env = {"DOCKET_DASHBOARD_TOKEN": TOKEN}
    with dashboard_process(
        redis_server.url, docket_name, tmp_path, "--public-read", env=env
    ) as base:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            for path in ("/", "/tasks", "/api/tasks", "/api/events", "/api/counts"):
                assert await answer(client, "GET", path) == 200, path
            token = await csrf(client)
            refused = await client.post(
                "/strikes/add", data={"function": "f", "csrf": token}
            )
            assert refused.status_code == 401


async def test_logout_revokes_the_session_and_checks_where_it_comes_from(
    dashboards: tuple[str, str],
):
    """Signing out ends the session on the server: a copy of the cookie stops
    working. A sign-out from another origin or without the CSRF token is
    refused (403) and ends nothing."""
    _, base = dashboards
    async with (
        httpx.AsyncClient(base_url=base, timeout=10) as browser,
        httpx.AsyncClient(base_url=base, timeout=10) as thief,
    ):
        token = await csrf(browser, "/login")
        await browser.post("/login", data={"token": TOKEN, "csrf": token})
        session = browser.cookies["docket_session"]
        thief.cookies.set("docket_session", session)
        assert (await thief.get("/api/counts")).status_code == 200
        cross = await browser.post(
            "/logout",
            data={"csrf": token},
            headers={"origin": "http://evil.example"},
        )
        assert cross.status_code == 403
        assert (await browser.post("/logout")).status_code == 403
        assert (await thief.get("/api/counts")).status_code == 200
        page = (await browser.get("/tasks")).text
        assert 'action="/logout"' in page
        out = await browser.post("/logout", data={"csrf": token})
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert (await thief.get("/api/counts")).status_code == 401
        assert (await thief.get("/tasks")).status_code == 303


async def test_wrong_tokens_are_rate_limited(
    redis_server: RedisServer, docket_name: str, tmp_path: Path
):
    """After 5 wrong tokens (sign-ins or bearers) within a minute, the address
    gets 429 with Retry-After, even for the right token."""
    env = {"DOCKET_DASHBOARD_TOKEN": TOKEN}
    with dashboard_process(redis_server.url, docket_name, tmp_path, env=env) as base:
        await _limited(base)


async def _limited(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        token = await csrf(client, "/login")
        for attempt in range(3):
            wrong = await client.post(
                "/login", data={"token": f"g{attempt}", "csrf": token}
            )
            assert "Wrong" in wrong.headers["location"]
        for attempt in range(2):
            bearer = {"authorization": f"Bearer b{attempt}"}
            assert (await client.get("/api/counts", headers=bearer)).status_code == 401
        limited = await client.post("/login", data={"token": TOKEN, "csrf": token})
        assert limited.status_code == 429
        assert 0 < int(limited.headers["retry-after"]) <= 60
        assert "docket_session" not in client.cookies
        right = {"authorization": f"Bearer {TOKEN}"}
        assert (await client.get("/api/counts", headers=right)).status_code == 429


@pytest.fixture
async def short_sessions(
    redis_server: RedisServer, docket_name: str
) -> AsyncIterator[str]:
    """``create_app`` with a token and 3-second sessions, served by uvicorn on
    127.0.0.1 in a thread (entering its docket there); its base URL."""
    docket = Docket(docket_name, url=redis_server.url)
    app = create_app(docket, token=TOKEN, session_lifetime=timedelta(seconds=3))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


async def test_sessions_expire(short_sessions: str):
    """A session ends when its lifetime (3 s here) is over, not before; its
    cookie says so too (Max-Age) and is HttpOnly and SameSite=Strict."""
    async with httpx.AsyncClient(base_url=short_sessions, timeout=10) as client:
        token = await csrf(client, "/login")
        signed = await client.post("/login", data={"token": TOKEN, "csrf": token})
        opened = time.monotonic()
        cookie = signed.headers["set-cookie"].lower()
        assert "max-age=3" in cookie and "httponly" in cookie
        assert "samesite=strict" in cookie
        session = client.cookies["docket_session"]
        first = await client.get("/api/counts")
        if time.monotonic() - opened < 2.5:  # a slow machine may be late to look
            assert first.status_code == 200
        while True:  # the browser would drop it; a copy must stop working
            client.cookies.set("docket_session", session)
            if (await client.get("/api/counts")).status_code == 401:
                break
            assert time.monotonic() - opened < 15, "the session never expired"
            await asyncio.sleep(0.05)
        assert time.monotonic() - opened >= 2.9


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": "Bearer tökén".encode()},
        {"authorization": b"Bearer \xff\xfe"},
        {"cookie": "docket_session=s\xe9ssion".encode("latin-1")},
    ],
)
async def test_non_ascii_credentials_are_a_400_or_401_never_a_500(
    dashboards: tuple[str, str], headers: dict[str, bytes]
):
    """A bearer that is not ASCII text is a 400 with a message; a strange
    session cookie is just no session (401)."""
    _, base = dashboards
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        response = await client.get("/api/counts", headers=headers)
        expected = 401 if "cookie" in headers else 400
        assert response.status_code == expected, response.text
        assert response.json()["error"]


async def test_non_ascii_sign_in_and_csrf_values_are_400(dashboards: tuple[str, str]):
    """A sign-in token or a CSRF token that is not ASCII is a 400 with a
    message, on the form posts that check them."""
    for base in dashboards:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            token = await csrf(client, "/login")
            bad_token = await client.post(
                "/login", data={"token": "tök", "csrf": token}
            )
            if base == dashboards[1]:
                assert bad_token.status_code == 400 and "ASCII" in bad_token.text
            bad_csrf = await client.post(
                "/login", data={"token": TOKEN, "csrf": "çsrf"}
            )
            assert bad_csrf.status_code == 400 and "ASCII" in bad_csrf.text
            if base == dashboards[0]:
                posted = await client.post(
                    "/strikes/add", data={"function": "f", "csrf": "çsrf"}
                )
                assert posted.status_code == 400 and "ASCII" in posted.text
