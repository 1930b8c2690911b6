"""``/``: queue depth, scheduled, running, workers, throughput, top failing tasks."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import views
from ..pages import bad_request, console_of, data, page


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
    try:
        minutes = int(request.query_params.get("minutes", "60"))
        return data({"minutes": await views.throughput(console_of(request), minutes)})
    except ValueError as error:
        return bad_request(str(error))


def routes() -> list[Route]:
    return [
        Route("/", overview_page),
        Route("/api/overview", overview_api),
        Route("/api/throughput", throughput_api),
    ]
