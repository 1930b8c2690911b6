"""``/tasks``: queued, scheduled and running tasks (with progress), searchable by
key and task name; cancel, run now, reschedule."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import _codec
from .. import views
from ..pages import bad_request, console_of, data, page, text
from ._actions import act, required


async def _read(request: Request) -> dict[str, Any]:
    offset = int(request.query_params.get("scheduled_offset", "0") or 0)
    if offset < 0:
        raise ValueError("scheduled_offset must not be negative")
    return await views.tasks(
        console_of(request),
        text(request, "q") or "",
        text(request, "running_after"),
        text(request, "queued_after"),
        offset,
    )


async def tasks_page(request: Request) -> Response:
    try:
        found = await _read(request)
    except ValueError as error:
        return bad_request(str(error))
    return page(request, "tasks.html", "tasks", **found)


async def tasks_api(request: Request) -> Response:
    try:
        return data(views.tasks_json(await _read(request)))
    except ValueError as error:
        return bad_request(str(error))


async def cancel(request: Request) -> Response:
    async def body(fields: dict[str, str]) -> str:
        key = required(fields, "key")
        await console_of(request).docket.cancel(key)
        return f"Cancelled {key}"

    return await act(request, "/tasks", body)


async def run_now(request: Request) -> Response:
    async def body(fields: dict[str, str]) -> str:
        key = required(fields, "key")
        if not await console_of(request).docket.reschedule(key):
            raise ValueError(f"{key} is not waiting (queued or scheduled)")
        return f"{key} runs now"

    return await act(request, "/tasks", body)


async def reschedule(request: Request) -> Response:
    async def body(fields: dict[str, str]) -> str:
        key = required(fields, "key")
        try:
            delay = timedelta(seconds=float(required(fields, "delay")))
        except ValueError:
            raise ValueError("delay must be a number of seconds") from None
        if delay < timedelta(0):
            raise ValueError("delay must not be negative")
        when = _codec.now() + delay
        if not await console_of(request).docket.reschedule(key, when):
            raise ValueError(f"{key} is not waiting (queued or scheduled)")
        return f"{key} rescheduled to {when.isoformat(timespec='seconds')}"

    return await act(request, "/tasks", body)


def routes() -> list[Route]:
    return [
        Route("/tasks", tasks_page),
        Route("/api/tasks", tasks_api),
        Route("/tasks/cancel", cancel, methods=["POST"]),
        Route("/tasks/run-now", run_now, methods=["POST"]),
        Route("/tasks/reschedule", reschedule, methods=["POST"]),
    ]
