"""``/dead``: the dead-letter stream, newest first (an empty state when none)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import views
from ..pages import console_of, data, page, text


async def dead_page(request: Request) -> Response:
    found = await views.dead(console_of(request), text(request, "cursor"))
    return page(request, "dead.html", "dead", **found)


async def dead_api(request: Request) -> Response:
    return data(await views.dead(console_of(request), text(request, "cursor")))


def routes() -> list[Route]:
    return [Route("/dead", dead_page), Route("/api/dead", dead_api)]
