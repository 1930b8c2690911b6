"""``/workers``: name, tasks, concurrency, last heartbeat, in-flight messages."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import views
from ..pages import console_of, data, page


async def workers_page(request: Request) -> Response:
    found = await views.workers(console_of(request))
    return page(request, "workers.html", "workers", **found)


async def workers_api(request: Request) -> Response:
    return data(await views.workers(console_of(request)))


def routes() -> list[Route]:
    return [Route("/workers", workers_page), Route("/api/workers", workers_api)]
