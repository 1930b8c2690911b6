"""Every malformed input is a 400 with a message, never a 500: each query
parameter any route reads, sent to every route with hostile values, and each
action's form fields, against a real ``docket dashboard`` process and
redis-server."""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests._support import ROOT
from tests._support.dashboard import dashboard_process
from tests._support.servers import RedisServer
from tests.web.test_dashboard_access import every_route

WEB = ROOT / "src" / "docket" / "web"
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
def base(redis_server: RedisServer, docket_name: str, tmp_path: Path) -> Iterator[str]:
    with dashboard_process(redis_server.url, docket_name, tmp_path) as url:
        yield url


async def status_and_text(
    client: httpx.AsyncClient, method: str, url: str, **kw: object
) -> tuple[int, str]:
    async with client.stream(method, url, **kw) as response:  # type: ignore[arg-type]
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            return response.status_code, ""
        return response.status_code, (await response.aread()).decode()


async def test_no_query_parameter_makes_a_500(base: str):
    """Every parameter any route reads, with each hostile value (not UTF-8, NUL,
    bidi, infinity, NaN, negative and huge numbers, bad cursors, 6,000
    characters), on every GET route: the answer is below 500, and a 400 says
    what is wrong."""
    gets = [path for method, path in every_route() if method == "GET"]
    names = query_parameters()
    gate = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def probe(path: str, name: str, value: str) -> None:
            url = f"{path}?{name}={value}"
            async with gate:
                status, text = await status_and_text(client, "GET", url)
            assert status < 500, (url, status, text[:300])
            if status == 400:
                assert len(text.strip()) > 10, (url, text)

        await asyncio.gather(
            *(probe(p, n, v) for p in gets for n in names for v in HOSTILE)
        )
        for path, name, value in [
            ("/api/tasks", "scheduled_offset", "9" * 40),
            ("/api/failed", "since", "inf"),
            ("/api/dead", "cursor", "abc"),
            ("/api/events", "page", "nope"),
            ("/api/throughput", "minutes", "1e309"),
        ]:
            response = await client.get(f"{path}?{name}={value}")
            assert response.status_code == 400, (path, name, value)
            assert name in response.json()["error"]


async def test_no_action_field_makes_a_500(base: str):
    """Each action with each of its form fields set to a hostile value (the
    rest left out) answers below 500."""
    posts = [path for method, path in every_route() if method == "POST"]
    values = ["inf", "nan", "9" * 40, "\x00\u202e", "0-0", "x" * 5000]
    header = {"x-docket-action": "1"}
    gate = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def probe(path: str, field: str, value: str) -> None:
            async with gate:
                response = await client.post(path, data={field: value}, headers=header)
            assert response.status_code < 500, (path, field, value, response.text)

        await asyncio.gather(
            *(probe(p, f, v) for p in posts for f in FIELDS for v in values)
        )
        for fields in (
            {"key": "k", "delay": "inf"},
            {"key": "k", "delay": "1e309"},
        ):
            response = await client.post(
                "/tasks/reschedule", data=fields, headers=header
            )
            assert response.status_code == 400 and "delay" in response.json()["error"]
        response = await client.post(
            "/failed/replay-all", data={"since": "inf"}, headers=header
        )
        assert response.status_code == 400 and "since" in response.json()["error"]
