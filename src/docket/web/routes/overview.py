"""``/``: queue depth, scheduled, running, workers, throughput, top failing tasks."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import query, views
from ..pages import console_of, data, page


async def overview_page(request: Request) -> Response:
    return page(
        request,
        "overview.html",
        "overview",
        **await views.overview(console_of(request)),
    )


async def overview_api(request: Request) -> Response:
    return data(await views.overview(console_of(request)))


async def throughput_api(request: Request) -> Response:
    minutes = query.whole(request, "minutes", 60, 1, 1440)
    return data({"minutes": await views.throughput(console_of(request), minutes)})


def routes() -> list[Route]:
    return [
        Route("/", overview_page),
        Route("/api/overview", overview_api),
        Route("/api/throughput", throughput_api),
    ]
