"""``/api/events``: server-sent events that keep a page live (every tick: the
counts, and the page's live parts rendered from the same templates as the page).
``/api/counts`` answers the counts once."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from .. import query, views
from ..pages import NAVIGATION, base_of, console_of, data
from ..security import csrf_token
from . import dead, failed, task, task_types, worker
from .tasks import TaskQuery

STREAM_SECONDS = 300  # a browser's EventSource reconnects by itself after this
LIVE_TIMEOUT = 1.0  # an update Redis has not answered by then is an outage


PAGES = (
    *(name for name, _, _ in NAVIGATION),
    "login",
    "task",
    "task-type",
    "worker",
)


async def _live(
    request: Request, page: str, tasks: TaskQuery | None = None
) -> dict[str, Any]:
    console = console_of(request)
    counts = await views.counts(console)
    context = {
        "base": base_of(request),
        "csrf": csrf_token(request),
        "read_only": console.settings.read_only,
    }
    html: dict[str, str] = {}
    if page == "tasks":
        found = await (tasks or TaskQuery.of(request)).read(console)
        for section in ("running", "queued", "scheduled"):
            html[f"{section}-rows"] = console.render(
                f"_{section}_rows.html", section=found[section], **context
            )
        html["lookup"] = console.render(
            "_lookup.html", lookup=found["lookup"], **context
        )
    elif page == "task" and (key := query.text(request, "key")):
        report = await task.report(console, key)
        html["task-live"] = console.render("_task_body.html", report=report, **context)
    elif page == "failed":
        found = await failed.read(request)
        html["failed-rows"] = console.render(
            "_failed_rows.html", filters=failed.filters(request), **found, **context
        )
    elif page == "dead":
        found = await dead.read(request)
        html["dead-rows"] = console.render("_dead_rows.html", **found, **context)
    elif page == "overview":
        found = await views.overview(console)
        html["top-failing"] = console.render("_top_failing.html", **found, **context)
        html["last-hour"] = console.render("_last_hour.html", **found)
        html["task-types"] = console.render("_task_types.html", **found, **context)
    elif page == "task-type" and (name := query.text(request, "name")):
        found = await task_types.task_type(console, name)
        html["task-type-live"] = console.render(
            "_task_type_body.html", **found, **context
        )
    elif page == "worker" and (name := query.text(request, "name")):
        found = await worker.worker(console, name)
        html["worker-live"] = console.render(
            "_worker_body.html", worker_name=name, worker=found, **context
        )
    elif page == "workers":
        found = await views.workers(console)
        html["workers-rows"] = console.render("_workers_rows.html", **found, **context)
    return {"counts": counts, "html": html, "at": time.time()}


async def events(request: Request) -> Response:
    console = console_of(request)
    page = query.choice(request, "page", PAGES, "overview")
    tasks = TaskQuery.of(request)  # checked before the stream starts
    if page in ("failed", "dead"):  # their filters, checked before it starts
        query.minutes(request, "since")
        query.stream_id(request, "cursor")

    async def stream() -> AsyncIterator[str]:
        deadline = time.monotonic() + STREAM_SECONDS
        yield "retry: 1000\n\n"
        while time.monotonic() < deadline and not console.streams_ending:
            if await request.is_disconnected():
                return
            try:
                payload = await asyncio.wait_for(
                    _live(request, page, tasks), LIVE_TIMEOUT
                )
                console.outage.over()
                yield f"data: {json.dumps(payload)}\n\n"
            except Exception as error:  # Redis trouble: say so, keep trying
                text = console.outage.began(error)
                yield f"event: trouble\ndata: {json.dumps(text)}\n\n"
            await console.pause(console.settings.tick)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


async def counts(request: Request) -> Response:
    return data(await views.counts(console_of(request)))


def routes() -> list[Route]:
    return [Route("/api/events", events), Route("/api/counts", counts)]
