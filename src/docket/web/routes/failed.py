"""``/failed``: the failed tasks with tracebacks; replay one, replay all
matching, purge."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import query, views
from ..pages import bad_request, console_of, data, minutes, page, text
from ._actions import act, required


async def read(request: Request) -> dict[str, Any]:
    """The failed page's data for the request's filters (its live stream's too)."""
    return await views.failed(
        console_of(request),
        text(request, "task"),
        text(request, "error_type"),
        text(request, "key"),
        minutes(request, "since"),
        query.stream_id(request, "cursor"),
    )


def filters(request: Request) -> dict[str, str]:
    return {n: text(request, n) or "" for n in ("task", "error_type", "key", "since")}


async def failed_page(request: Request) -> Response:
    try:
        found = await read(request)
    except ValueError as error:
        return bad_request(str(error))
    return page(request, "failed.html", "failed", filters=filters(request), **found)


async def failed_api(request: Request) -> Response:
    try:
        return data(await read(request))
    except ValueError as error:
        return bad_request(str(error))


def _since(fields: dict[str, str]) -> timedelta | None:
    if not fields.get("since"):
        return None
    return query.minutes_of("since", fields["since"])


async def replay(request: Request) -> Response:
    async def body(fields: dict[str, str]) -> str:
        key = required(fields, "key")
        disposition = await console_of(request).docket.failed_tasks.replay(key)
        if disposition.value != "scheduled":
            raise ValueError(f"{key} is already scheduled; the failure stays")
        return f"Replayed {key}"

    return await act(request, "/failed", body)


async def replay_all(request: Request) -> Response:
    async def body(fields: dict[str, str]) -> str:
        count = await console_of(request).docket.failed_tasks.replay_all(
            fields.get("task") or None,
            fields.get("error_type") or None,
            _since(fields),
            contains=True,
        )
        return f"Replayed {count} failed tasks"

    return await act(request, "/failed", body)


async def purge(request: Request) -> Response:
    async def body(fields: dict[str, str]) -> str:
        task, error_type = fields.get("task") or None, fields.get("error_type") or None
        key = fields.get("key") or None
        if not (task or error_type or key) and fields.get("all") != "1":
            raise ValueError("choose filters, or confirm purging everything")
        count = await console_of(request).docket.failed_tasks.purge(
            task, error_type, key, contains=bool(task or error_type or key)
        )
        return f"Purged {count} failed tasks"

    return await act(request, "/failed", body)


def routes() -> list[Route]:
    return [
        Route("/failed", failed_page),
        Route("/api/failed", failed_api),
        Route("/failed/replay", replay, methods=["POST"]),
        Route("/failed/replay-all", replay_all, methods=["POST"]),
        Route("/failed/purge", purge, methods=["POST"]),
    ]
