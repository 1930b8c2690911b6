"""Docket in a FastAPI (or Starlette) service.

``docket_lifespan`` opens a Docket for the app's life (and, with
``worker=True``, runs a worker in the same process for a small service);
``get_docket`` hands it to request handlers (a FastAPI dependency, or a plain
call in Starlette); ``mount_dashboard`` serves Docket's dashboard under a path
of the app, its pages, assets, live updates, CSRF protection and token working
there, and closes it with the app::

    lifespan = docket_lifespan(name="signups", url="redis://localhost:6379/0",
                               tasks=[send_welcome])
    app = FastAPI(lifespan=lifespan)
    mount_dashboard(app, lifespan.docket)

    @app.post("/signups")
    async def sign_up(email: str, docket: Docket = Depends(get_docket)):
        await docket.add(send_welcome)(email)

Needs ``docket[fastapi]`` (FastAPI, and the dashboard's Starlette and Jinja2).
See docs/fastapi.md."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncGenerator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from docket import Docket, Worker
from docket.execution import TaskFunction
from docket.web import create_app

DEFAULT_PATH = "/admin/docket"


class DocketLifespan:
    """An app's lifespan (``FastAPI(lifespan=...)``) that opens ``docket`` for
    the app's life, and runs a worker beside it when asked. Build it with
    ``docket_lifespan``; ``lifespan.docket`` is there from the start (to mount
    the dashboard, or to register more tasks)."""

    def __init__(
        self,
        docket: Docket,
        worker: bool,
        worker_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.docket = docket
        self.worker = worker
        self.worker_options = dict(worker_options or {})

    @asynccontextmanager
    async def __call__(self, app: Any) -> AsyncGenerator[dict[str, Any], None]:
        async with self.docket:
            app.state.docket = self.docket
            try:
                if not self.worker:
                    yield {"docket": self.docket}
                    return
                async with Worker(self.docket, **self.worker_options) as worker:
                    running = asyncio.ensure_future(worker.run_forever())
                    try:
                        yield {"docket": self.docket}
                    finally:
                        worker.stop()  # graceful: running tasks finish first
                        await running
            finally:
                app.state.docket = None


def docket_lifespan(
    name: str | None = None,
    url: str | None = None,
    worker: bool = False,
    *,
    tasks: Iterable[TaskFunction | str] = (),
    worker_options: Mapping[str, Any] | None = None,
    **docket_options: Any,
) -> DocketLifespan:
    """A lifespan that opens the Docket ``name`` at ``url`` (default: the
    ``DOCKET_NAME`` and ``DOCKET_URL`` environment variables, else Docket's
    defaults) while the app runs.

    ``tasks`` (functions, or ``"module:attribute"`` collections) are
    registered on it; ``worker=True`` also runs a ``Worker`` on it in this
    process (``worker_options`` go to its constructor), stopped gracefully at
    shutdown. Other keyword arguments go to ``Docket`` (``execution_ttl``,
    ``signing_keys``, ``serializer``...)."""
    options = dict(docket_options)
    name = name or os.environ.get("DOCKET_NAME")
    url = url or os.environ.get("DOCKET_URL")
    if name:
        options["name"] = name
    if url:
        options["url"] = url
    docket = Docket(**options)
    for task in tasks:
        if isinstance(task, str):
            docket.register_collection(task)
        else:
            docket.register(task)
    return DocketLifespan(docket, worker, worker_options)


def get_docket(connection: HTTPConnection) -> Docket:
    """The app's Docket, for a request handler: ``Depends(get_docket)`` in
    FastAPI, ``get_docket(request)`` in Starlette. Raises RuntimeError when the
    app was not given ``docket_lifespan`` (or it is not running)."""
    docket = getattr(connection.state, "docket", None)
    if not isinstance(docket, Docket):
        docket = getattr(connection.app.state, "docket", None)
    if not isinstance(docket, Docket):
        raise RuntimeError(
            "This app has no open Docket: create it with "
            "FastAPI(lifespan=docket_lifespan(...))"
        )
    return docket


def mount_dashboard(
    app: Starlette,
    docket: Docket,
    path: str = DEFAULT_PATH,
    **options: Any,
) -> Starlette:
    """Serve Docket's dashboard of ``docket`` under ``path`` of ``app``.

    ``options`` go to ``docket.web.create_app`` (``token``, ``read_only``...;
    the token defaults to ``DOCKET_DASHBOARD_TOKEN``). The dashboard's own
    lifespan runs inside the app's, so it closes when the app shuts down.
    Returns the dashboard's app."""
    if not path.startswith("/") or path.endswith("/"):
        raise ValueError(
            f"The dashboard's path must start with '/' and not end with one: {path!r}"
        )
    dashboard = create_app(docket, **options)
    app.mount(path, dashboard, name="docket-dashboard")
    host_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(host: Any) -> AsyncGenerator[Any, None]:
        async with host_lifespan(host) as state:
            async with dashboard.router.lifespan_context(dashboard):
                yield state

    app.router.lifespan_context = lifespan
    return dashboard


__all__ = [
    "DocketLifespan",
    "docket_lifespan",
    "get_docket",
    "mount_dashboard",
]
