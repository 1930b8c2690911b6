"""``create_app(docket)``: the dashboard as an ASGI application."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Iterable
from contextlib import asynccontextmanager
from datetime import timedelta
from importlib import resources

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from .. import _defaults
from ..docket import Docket
from .console import Console, Settings
from .hosts import ASGIApp, HostCheck, Message, Receive, Scope, Send
from .outage import UNREACHABLE
from .query import BadQuery
from .routes import (
    auth,
    dead,
    events,
    failed,
    overview,
    strikes,
    task,
    task_types,
    tasks,
    worker,
    workers,
)
from .security import AccessGuard


class ServerTiming:
    """Adds ``Server-Timing: app;dur=<ms>`` (time to the response's headers)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = (time.perf_counter() - started) * 1000
                headers = list(message.get("headers", []))
                headers.append((b"server-timing", f"app;dur={elapsed:.1f}".encode()))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"same-origin"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, timed)


async def malformed_query(request: Request, error: Exception) -> Response:
    """Every route's answer to a malformed query parameter: 400 and why (a
    short page for a browser, JSON under /api/)."""
    if _is_api(request):
        return JSONResponse({"error": str(error)}, status_code=400)
    console: Console = request.app.state.console
    html = console.render(
        "bad_request.html",
        docket_name=console.docket.name,
        problem=str(error),
        path=request.url.path,
    )
    return HTMLResponse(html, status_code=400)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(f"{request.scope.get('root_path', '')}/api/")


async def unreachable(request: Request, error: Exception) -> Response:
    """Every route's answer while Redis cannot be reached: 503 with a page that
    says so and retries by itself (JSON under /api/); one log line per outage,
    never a traceback per request."""
    console: Console = request.app.state.console
    text = console.outage.began(error)
    if _is_api(request):
        document = {"error": f"Redis unreachable at {console.safe_url}: {text}"}
        return JSONResponse(document, status_code=503)
    html = console.render(
        "unreachable.html",
        docket_name=console.docket.name,
        docket_url=console.safe_url,
        problem=text,
    )
    return HTMLResponse(html, status_code=503, headers={"Retry-After": "5"})


def create_app(
    docket: Docket,
    *,
    token: str | None = None,
    read_only: bool = False,
    unpickle: bool = False,
    allowed_hosts: Iterable[str] = (),
    public_read: bool = False,
    session_lifetime: timedelta = _defaults.DASHBOARD_SESSION_LIFETIME,
) -> Starlette:
    """The dashboard of ``docket``, to serve (``docket dashboard``) or to mount.

    ``token`` (default: ``DOCKET_DASHBOARD_TOKEN``; ``""`` for none), when set,
    is required for every page, ``/api/`` route, the live stream and every
    action; ``public_read`` lets anyone read (actions still need it).
    ``read_only`` refuses all actions; ``unpickle`` shows task arguments by
    unpickling them (only for payloads you trust: unpickling runs their code).
    ``allowed_hosts`` are the ``Host`` names it answers to besides 127.0.0.1,
    localhost and [::1] (and those of ``DOCKET_DASHBOARD_ALLOWED_HOSTS``); ``*``
    answers to any, for when the service it is mounted in checks ``Host``
    itself. Other hosts get 400. A sign-in lasts ``session_lifetime`` or until
    sign-out. The docket is entered on first use unless the host entered it
    already."""
    settings = Settings.from_environment(
        token, read_only, unpickle, public_read, allowed_hosts
    )
    if session_lifetime <= timedelta(0):
        raise ValueError("session_lifetime must be positive")
    settings.session_lifetime = session_lifetime.total_seconds()
    console = Console(docket, settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            await console.close()

    static = resources.files("docket.web").joinpath("static")
    routes: list[BaseRoute] = [
        *overview.routes(),
        *tasks.routes(),
        *task.routes(),  # after /tasks/cancel and the other actions
        *failed.routes(),
        *dead.routes(),
        *workers.routes(),
        *worker.routes(),
        *task_types.routes(),
        *strikes.routes(),
        *events.routes(),
        *auth.routes(),
        Mount("/static", StaticFiles(directory=str(static)), name="static"),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            BadQuery: malformed_query,
            **{kind: unreachable for kind in UNREACHABLE},
        },
    )
    app.state.console = console
    # The last added runs first: timing, then Host, then the token.
    app.add_middleware(AccessGuard, console=console)  # pyright: ignore[reportArgumentType]
    app.add_middleware(HostCheck, allowed=settings.allowed_hosts)  # pyright: ignore[reportArgumentType]
    app.add_middleware(ServerTiming)  # pyright: ignore[reportArgumentType]
    return app


def end_live_streams(app: Starlette) -> None:
    """End the live streams of a dashboard made by ``create_app`` at their next
    tick (half a second): call it when the server starts shutting down, so that
    an open browser tab does not hold the shutdown (and whatever the service
    stops after it, such as an embedded worker) until its stream ends."""
    console: Console = app.state.console
    console.end_streams()
