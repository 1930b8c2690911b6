"""Every malformed input is a 400 with a message, never a 500: each query
parameter any route reads, sent to every route with hostile values, and each
action's form fields, against the dashboard app on a real redis-server (and the
live stream's parameters against a real ``docket dashboard`` process)."""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from docket import Docket
from docket.web import create_app
from tests._support import ROOT
from tests._support.dashboard import dashboard_process
from tests._support.servers import RedisServer
from tests.web.test_dashboard_access import every_route

WEB = ROOT / "src" / "docket" / "web"
STREAM = "/api/events"  # streams until the client leaves: see its own test
READERS = {"text", "stream_id", "whole", "offset", "minutes", "choice", "get"}
HOSTILE = [
    "%FF",  # not UTF-8 once decoded
    quote("\x00\u202e"),  # NUL and a bidi override
    "inf",
    "nan",
    "-1",
    "9" * 40,
    "18446744073709551616-0",
    "0-0",
    quote("<x>" * 2000),
]
FIELDS = [
    "key",
    "delay",
    "id",
    "task",
    "error_type",
    "since",
    "all",
    "function",
    "parameter",
    "operator",
    "type",
    "value",
    "token",
    "csrf",
]


def query_parameters() -> list[str]:
    """Every query parameter name the dashboard's code reads (the string
    second argument of a query reader, or ``query_params.get("name")``)."""
    found: set[str] = set()
    for path in WEB.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            function = node.func
            name = getattr(function, "attr", getattr(function, "id", ""))
            if name not in READERS:
                continue
            texts = [
                a.value
                for a in node.args
                if isinstance(a, ast.Constant) and isinstance(a.value, str)
            ]
            if name == "get" and "query_params" not in ast.unparse(function):
                continue
            if texts:
                found.add(texts[0])
    expected = {"q", "cursor", "since", "scheduled_offset", "minutes", "page"}
    assert expected <= found, found
    return sorted(found)


@pytest.fixture
async def app_client(
    redis_server: RedisServer, docket_name: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The dashboard app on a real redis-server, called in-process."""
    async with Docket(docket_name, url=redis_server.url) as docket:
        transport = httpx.ASGITransport(app=create_app(docket, token=""))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1", timeout=30
        ) as client:
            yield client


async def status_and_text(
    client: httpx.AsyncClient, method: str, url: str, **kw: object
) -> tuple[int, str]:
    async with client.stream(method, url, **kw) as response:  # type: ignore[arg-type]
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            return response.status_code, ""
        return response.status_code, (await response.aread()).decode()


async def test_no_query_parameter_makes_a_500(app_client: httpx.AsyncClient):
    """Every parameter any route reads, with each hostile value (not UTF-8, NUL,
    bidi, infinity, NaN, negative and huge numbers, bad cursors, 6,000
    characters), on every GET route: the answer is below 500, and a 400 says
    what is wrong."""
    gets = [
        path for method, path in every_route() if method == "GET" and path != STREAM
    ]
    names = query_parameters()
    client = app_client
    for path in gets:
        for name in names:
            for value in HOSTILE:
                url = f"{path}?{name}={value}"
                status, text = await status_and_text(client, "GET", url)
                assert status < 500, (url, status, text[:300])
                if status == 400:
                    assert len(text.strip()) > 10, (url, text)
    for path, name, value in [
        ("/api/tasks", "scheduled_offset", "9" * 40),
        ("/api/failed", "since", "inf"),
        ("/api/dead", "cursor", "abc"),
        ("/api/throughput", "minutes", "1e309"),
    ]:
        response = await client.get(f"{path}?{name}={value}")
        assert response.status_code == 400, (path, name, value)
        assert name in response.json()["error"]


async def test_the_live_stream_checks_its_parameters_first(
    redis_server: RedisServer, docket_name: str, tmp_path: Path
):
    """The live stream (a real ``docket dashboard``) answers each hostile value
    of each of its parameters with a 400 before streaming, or streams."""
    names = ["page", "q", "running_after", "queued_after", "scheduled_offset"]
    with dashboard_process(redis_server.url, docket_name, tmp_path) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            for name in names:
                for value in HOSTILE:
                    url = f"{STREAM}?{name}={value}"
                    status, text = await status_and_text(client, "GET", url)
                    assert status in (200, 400), (url, status, text[:300])
            nope = await client.get(f"{STREAM}?page=nope")
            assert nope.status_code == 400 and "page" in nope.json()["error"]


async def test_no_action_field_makes_a_500(app_client: httpx.AsyncClient):
    """Each action with each of its form fields set to a hostile value (the
    rest left out) answers below 500."""
    posts = [path for method, path in every_route() if method == "POST"]
    values = ["inf", "nan", "9" * 40, "\x00\u202e", "0-0", "x" * 5000]
    header = {"x-docket-action": "1"}
    client = app_client
    for path in posts:
        for field in FIELDS:
            for value in values:
                response = await client.post(path, data={field: value}, headers=header)
                assert response.status_code < 500, (path, field, value, response.text)
    for fields in (
        {"key": "k", "delay": "inf"},
        {"key": "k", "delay": "1e309"},
    ):
        response = await client.post("/tasks/reschedule", data=fields, headers=header)
        assert response.status_code == 400 and "delay" in response.json()["error"]
    response = await client.post(
        "/failed/replay-all", data={"since": "inf"}, headers=header
    )
    assert response.status_code == 400 and "since" in response.json()["error"]
