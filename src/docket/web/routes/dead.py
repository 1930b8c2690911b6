"""``/dead``: the dead-letter stream, newest first; replay one, purge one or all."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import query, views
from ..pages import console_of, data, page
from ._actions import act, required


def filters(request: Request) -> dict[str, str]:
    return {name: query.text(request, name) or "" for name in views.DEAD_FILTERS}


async def read(request: Request) -> dict[str, Any]:
    """The dead page's data for the request's filters (its live stream's too)."""
    cursor = query.stream_id(request, "cursor")
    return await views.dead(console_of(request), cursor, filters(request))


async def dead_page(request: Request) -> Response:
    return page(request, "dead.html", "dead", **await read(request))


async def dead_api(request: Request) -> Response:
    return data(await read(request))


async def replay(request: Request) -> Response:
    async def body(fields: dict[str, str]) -> str:
        letter = query.checked_stream_id("id", required(fields, "id"))
        try:
            execution = await console_of(request).docket.dead_letters.replay(letter)
        except LookupError as error:
            raise ValueError(str(error)) from None
        return f"Replayed {letter} as {execution.key}"

    return await act(request, "/dead", body)


async def purge(request: Request) -> Response:
    async def body(fields: dict[str, str]) -> str:
        letters = console_of(request).docket.dead_letters
        if fields.get("all") == "1":
            return f"Purged {await letters.purge()} dead letters"
        letter = query.checked_stream_id("id", required(fields, "id"))
        return f"Purged {await letters.purge([letter])} dead letter"

    return await act(request, "/dead", body)


def routes() -> list[Route]:
    return [
        Route("/dead", dead_page),
        Route("/api/dead", dead_api),
        Route("/dead/replay", replay, methods=["POST"]),
        Route("/dead/purge", purge, methods=["POST"]),
    ]
