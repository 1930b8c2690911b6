"""docket.contrib.fastapi in a FastAPI app, in this process: the lifespan opens
and closes the Docket (and runs a worker when asked), handlers get it through
``get_docket``, and the dashboard is served under a path with its assets, live
data, CSRF and token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from starlette.requests import Request

from docket import Docket, ExecutionState
from docket.contrib.fastapi import docket_lifespan, get_docket, mount_dashboard
from tests.conftest import eventually

Handed = Annotated[Docket, Depends(get_docket)]


async def double(value: int) -> int:
    return value * 2


tasks = [double]


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app started (its lifespan entered) and a client talking to it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1"
        ) as client:
            yield client


def service(docket_url: str, docket_name: str, **options: Any) -> FastAPI:
    lifespan = docket_lifespan(name=docket_name, url=docket_url, **options)
    app = FastAPI(lifespan=lifespan)
    app.state.lifespan = lifespan

    @app.post("/double/{value}")
    async def enqueue(value: int, docket: Handed) -> dict[str, str]:
        execution = await docket.add(double)(value)
        return {"key": execution.key}

    @app.get("/tasks/{key}")
    async def state(key: str, docket: Handed) -> dict[str, Any]:
        execution = await docket.get_execution(key)
        assert execution is not None
        answer: dict[str, Any] = {"state": execution.state.value}
        if execution.state is ExecutionState.COMPLETED:
            answer["result"] = await execution.get_result()
        return answer

    return app


async def test_the_lifespan_opens_the_docket_for_the_apps_life(
    docket_url: str, docket_name: str
) -> None:
    """Closed before startup and after shutdown, open in between; handlers get
    it through get_docket and enqueue on it."""
    app = service(docket_url, docket_name, tasks=tasks)
    docket: Docket = app.state.lifespan.docket
    with pytest.raises(RuntimeError):
        docket.broker  # noqa: B018 (not open yet)
    async with running(app) as client:
        answer = await client.post("/double/21")
        assert answer.status_code == 200
        key = answer.json()["key"]
        assert (await client.get(f"/tasks/{key}")).json() == {"state": "queued"}
        assert app.state.docket is docket
    with pytest.raises(RuntimeError):
        docket.broker  # noqa: B018 (closed again)
    assert app.state.docket is None


async def test_worker_true_runs_tasks_in_the_same_process(
    docket_url: str, docket_name: str
) -> None:
    """With worker=True a worker runs beside the app: an enqueued task completes
    without any other process; tasks may be named as a "module:attribute"
    collection."""
    app = service(
        docket_url,
        docket_name,
        worker=True,
        tasks=["tests.contrib.test_fastapi_app:tasks"],
        worker_options={"minimum_check_interval": timedelta(milliseconds=10)},
    )
    async with running(app) as client:
        key = (await client.post("/double/21")).json()["key"]

        async def done() -> Any:
            answer = (await client.get(f"/tasks/{key}")).json()
            return answer if answer["state"] == "completed" else None

        assert (await eventually(done, timeout=10))["result"] == 42


async def test_shutdown_lets_the_in_process_worker_finish_its_task(
    docket_url: str, docket_name: str
) -> None:
    """The worker stops gracefully with the app: a task running at shutdown
    finishes and its result is stored."""
    started = asyncio.Event()

    async def slow(value: int) -> int:
        started.set()
        await asyncio.sleep(0.3)
        return value

    lifespan = docket_lifespan(
        name=docket_name, url=docket_url, worker=True, tasks=[slow]
    )
    app = FastAPI(lifespan=lifespan)
    async with app.router.lifespan_context(app):
        execution = await lifespan.docket.add(slow)(7)
        await asyncio.wait_for(started.wait(), 10)
    async with lifespan.docket:
        found = await lifespan.docket.get_execution(execution.key)
        assert found is not None and found.state is ExecutionState.COMPLETED
        assert await found.get_result() == 7


async def test_get_docket_without_the_lifespan_says_what_to_do() -> None:
    """A handler asking for the Docket of an app without docket_lifespan gets a
    RuntimeError naming the fix."""
    app = FastAPI()
    request = Request({"type": "http", "app": app, "headers": []})
    with pytest.raises(RuntimeError, match="docket_lifespan"):
        get_docket(request)


async def test_the_dashboard_is_served_under_its_path(
    docket_url: str, docket_name: str
) -> None:
    """mount_dashboard: pages whose links carry /admin/docket, the assets, the
    live data, and actions that need the CSRF token there."""
    app = service(docket_url, docket_name, tasks=tasks)
    mount_dashboard(app, app.state.lifespan.docket, token="")
    async with running(app) as client:
        await client.post("/double/1")
        page = await client.get("/admin/docket/tasks")
        assert page.status_code == 200
        assert 'href="/admin/docket/strikes"' in page.text
        assert 'src="/admin/docket/static/docket.js"' in page.text
        for asset in ("docket.css", "docket.js"):
            assert (
                await client.get(f"/admin/docket/static/{asset}")
            ).status_code == 200
        counts = (await client.get("/admin/docket/api/counts")).json()
        assert counts["queued"] == 1
        refused = await client.post(
            "/admin/docket/strikes/add", data={"function": "double"}
        )
        assert refused.status_code == 403
        token = client.cookies["docket_csrf"]
        done = await client.post(
            "/admin/docket/strikes/add", data={"function": "double", "csrf": token}
        )
        assert done.status_code == 303
        assert done.headers["location"].startswith("/admin/docket/strikes")
        docket: Docket = app.state.lifespan.docket
        assert docket.strike_list.struck_functions == frozenset({"double"})
        assert (await client.get("/docs")).status_code == 200  # the app's own pages


async def test_the_dashboard_token_works_under_its_path(
    docket_url: str, docket_name: str
) -> None:
    """With a token, an anonymous browser is sent to /admin/docket/login and the
    API answers 401; after signing in there, pages and actions work under the
    path (the session cookie and the CSRF token included)."""
    app = service(docket_url, docket_name)
    mount_dashboard(app, app.state.lifespan.docket, token="s3cret-token")
    async with running(app) as client:
        page = await client.get("/admin/docket/strikes")
        assert page.status_code == 303
        assert page.headers["location"] == "/admin/docket/login"
        assert (await client.get("/admin/docket/api/counts")).status_code == 401
        assert (await client.get("/admin/docket/login")).status_code == 200
        csrf = client.cookies["docket_csrf"]
        signed = await client.post(
            "/admin/docket/login", data={"token": "s3cret-token", "csrf": csrf}
        )
        assert signed.status_code == 303
        assert (await client.get("/admin/docket/strikes")).status_code == 200
        ok = await client.post(
            "/admin/docket/strikes/add", data={"function": "x", "csrf": csrf}
        )
        assert ok.status_code == 303
        assert (await client.get("/double-check")).status_code == 404  # the app's own


async def test_the_dashboard_answers_only_its_allowed_hosts(
    docket_url: str, docket_name: str
) -> None:
    """Options reach the dashboard: by default it answers loopback names only
    (another Host is a 400, as when it is served alone); ``allowed_hosts``
    adds the service's own names."""
    app = service(docket_url, docket_name)
    mount_dashboard(app, app.state.lifespan.docket, token="")
    mount_dashboard(
        app,
        app.state.lifespan.docket,
        path="/ops",
        token="",
        allowed_hosts=["api.example.com"],
    )
    async with running(app) as client:
        foreign = {"host": "api.example.com"}
        assert (
            await client.get("/admin/docket/api/counts", headers=foreign)
        ).status_code == 400
        assert (await client.get("/ops/api/counts", headers=foreign)).status_code == 200
        assert (await client.get("/admin/docket/api/counts")).status_code == 200


async def test_a_dashboard_that_opened_its_docket_closes_it_with_the_app(
    docket_url: str, docket_name: str
) -> None:
    """A Docket the app does not open is opened by the dashboard on first use
    and closed at the app's shutdown (its lifespan runs inside the app's)."""
    app = FastAPI()
    docket = Docket(name=docket_name, url=docket_url)
    mount_dashboard(app, docket, path="/ops", token="")
    async with running(app) as client:
        assert (await client.get("/ops/api/counts")).status_code == 200
        docket.broker  # noqa: B018 (opened by the dashboard)
    with pytest.raises(RuntimeError):
        docket.broker  # noqa: B018


def test_the_dashboard_path_is_checked() -> None:
    """A path must start with '/' and not end with one."""
    docket = Docket(name="x", url="memory://x")
    for path in ("admin", "/admin/", ""):
        with pytest.raises(ValueError, match="path"):
            mount_dashboard(FastAPI(), docket, path=path)
