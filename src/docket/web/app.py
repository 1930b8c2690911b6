"""``create_app(docket)``: the dashboard as an ASGI application."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from ..docket import Docket
from .console import Console, Settings
from .routes import auth, dead, events, failed, overview, strikes, tasks, workers

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


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


def create_app(
    docket: Docket,
    *,
    token: str | None = None,
    read_only: bool = False,
    unpickle: bool = False,
) -> Starlette:
    """The dashboard of ``docket``, to serve (``docket dashboard``) or to mount.

    ``token`` (default: ``DOCKET_DASHBOARD_TOKEN``) is required for every action
    when set; ``read_only`` refuses all actions; ``unpickle`` shows task arguments
    by unpickling them (only for payloads you trust: unpickling runs their code).
    The docket is entered on first use unless the host entered it already."""
    console = Console(docket, Settings.from_environment(token, read_only, unpickle))

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
        *failed.routes(),
        *dead.routes(),
        *workers.routes(),
        *strikes.routes(),
        *events.routes(),
        *auth.routes(),
        Mount("/static", StaticFiles(directory=str(static)), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.console = console
    app.add_middleware(ServerTiming)  # pyright: ignore[reportArgumentType]
    return app
