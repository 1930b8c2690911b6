"""Safe by default: the token guards actions when set, read-only refuses them,
CSRF protection, no password on any page, and the app mounts under a path; live
updates stream as server-sent events from a real server."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from docket import Docket
from docket.web import create_app
from tests._support.servers import RedisServer
from tests.web.conftest import app_client, csrf


async def test_actions_need_the_csrf_token_and_the_same_origin(docket: Docket):
    """A form post without the CSRF token, with a wrong one, or from another
    site is refused and changes nothing."""
    async with app_client(create_app(docket, token="")) as client:
        token = await csrf(client)
        assert (
            await client.post("/strikes/add", data={"function": "x"})
        ).status_code == 403
        wrong = await client.post("/strikes/add", data={"function": "x", "csrf": "no"})
        assert wrong.status_code == 403
        foreign = await client.post(
            "/strikes/add",
            data={"function": "x", "csrf": token},
            headers={"origin": "http://evil.example"},
        )
        assert foreign.status_code == 403
        assert docket.strike_list.struck_functions == frozenset()
        ok = await client.post("/strikes/add", data={"function": "x", "csrf": token})
        assert ok.status_code == 303
        assert docket.strike_list.struck_functions == frozenset({"x"})


async def test_read_only_refuses_every_action(docket: Docket):
    """--read-only hides the buttons and answers 403 to any action."""
    async with app_client(create_app(docket, token="", read_only=True)) as client:
        token = await csrf(client)
        page = (await client.get("/strikes")).text
        assert "read-only" in page and 'action="/strikes/add"' not in page
        refused = await client.post(
            "/strikes/add", data={"function": "x", "csrf": token}
        )
        assert refused.status_code == 403
        api = await client.post(
            "/tasks/cancel", data={"key": "k"}, headers={"x-docket-action": "1"}
        )
        assert api.status_code == 403
    assert docket.strike_list.struck_functions == frozenset()


async def test_the_token_guards_actions(
    docket: Docket, monkeypatch: pytest.MonkeyPatch
):
    """With DOCKET_DASHBOARD_TOKEN set, actions (and reads) need a session (sign
    in with the token) or the token as a bearer."""
    monkeypatch.setenv("DOCKET_DASHBOARD_TOKEN", "s3cret-token")
    async with app_client(create_app(docket)) as client:
        assert (await client.get("/api/counts")).status_code == 401
        token = await csrf(client, "/login")
        anonymous = await client.post(
            "/strikes/add", data={"function": "x", "csrf": token}
        )
        assert anonymous.status_code == 401 and "/login" in anonymous.text
        api = await client.post(
            "/strikes/add", data={"function": "x"}, headers={"x-docket-action": "1"}
        )
        assert api.status_code == 401
        wrong = await client.post("/login", data={"token": "guess", "csrf": token})
        assert "Wrong" in wrong.headers["location"]
        assert docket.strike_list.struck_functions == frozenset()
        signed = await client.post(
            "/login", data={"token": "s3cret-token", "csrf": token}
        )
        assert signed.status_code == 303
        assert "s3cret-token" not in signed.headers.get("set-cookie", "")
        ok = await client.post("/strikes/add", data={"function": "x", "csrf": token})
        assert ok.status_code == 303 and "Struck" in ok.headers["location"]
    async with app_client(create_app(docket)) as other:
        bearer = await other.post(
            "/strikes/restore",
            data={"id": "nope"},
            headers={"x-docket-action": "1", "authorization": "Bearer s3cret-token"},
        )
        assert bearer.status_code == 400
        assert bearer.json() == {"error": "that strike is not in place any more"}


async def test_no_password_is_ever_shown(docket_name: str):
    """A URL with a password is shown with the password masked."""
    url = f"memory://operator:hunter2@{docket_name}/0"
    async with Docket(docket_name, url=url) as docket:
        async with app_client(create_app(docket, token="")) as client:
            for path in ("/", "/tasks", "/failed", "/workers", "/strikes", "/dead"):
                page = (await client.get(path)).text
                assert "hunter2" not in page
                assert docket_name in page


async def test_mounts_under_a_path(docket: Docket):
    """Mounted under /ops in a Starlette app, every link and form carries /ops."""
    host = Starlette(routes=[Mount("/ops", app=create_app(docket, token=""))])
    async with app_client(host) as client:
        page = await client.get("/ops/strikes")
        assert page.status_code == 200
        assert 'href="/ops/tasks"' in page.text
        assert 'action="/ops/strikes/add"' in page.text
        assert 'src="/ops/static/docket.js"' in page.text
        assert (await client.get("/ops/api/counts")).status_code == 200
        token = client.cookies["docket_csrf"]
        done = await client.post(
            "/ops/strikes/add", data={"function": "y", "csrf": token}
        )
        assert done.headers["location"].startswith("/ops/strikes?")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def served(redis_server: RedisServer, docket_name: str) -> Iterator[str]:
    """``create_app`` served by uvicorn on 127.0.0.1 in a thread; its base URL."""
    port = free_port()
    docket = Docket(docket_name, url=redis_server.url)
    config = uvicorn.Config(
        create_app(docket, token=""),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


async def test_live_events_arrive_within_a_second(
    served: str, redis_server: RedisServer, docket_name: str
):
    """/api/events streams the counts (and the page's live parts) at least once a
    second; a task added meanwhile shows up in the next event."""
    async with httpx.AsyncClient(base_url=served, timeout=10) as client:
        async with client.stream("GET", "/api/events?page=tasks") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            started = time.monotonic()
            events = aiter_events(stream)
            first = await anext(events)
            assert time.monotonic() - started < 1.5
            assert first["counts"]["queued"] == 0
            async with Docket(docket_name, url=redis_server.url) as docket:
                docket.register_collection("tests._support.console_tasks:tasks")
                await docket.add("quick", key="live-one")(1)
            added = time.monotonic()
            while True:
                event = await asyncio.wait_for(anext(events), 2)
                if event["counts"]["queued"] == 1:
                    break
            assert time.monotonic() - added < 1.0
            assert "live-one" in event["html"]["queued-rows"]


async def aiter_events(stream: httpx.Response):  # type: ignore[no-untyped-def]
    async for line in stream.aiter_lines():
        if line.startswith("data: "):
            yield json.loads(line[6:])
