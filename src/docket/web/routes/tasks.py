"""``/tasks``: queued, scheduled and running tasks (with progress), searchable by
key and task name; cancel, run now, reschedule, send a signal."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import _codec
from .. import query, views
from ..console import Console
from ..pages import bad_request, console_of, data, page
from ._actions import act, required


@dataclass(frozen=True)
class TaskQuery:
    """The tasks page's parameters, checked (a 400 when one is malformed)."""

    q: str
    running_after: str | None
    queued_after: str | None
    scheduled_offset: int
    # The last row of the scheduled page before (its key and due time): the next
    # page starts after it wherever it is now, so no row repeats or is skipped.
    scheduled_after: str | None = None
    scheduled_at: float = 0.0

    @classmethod
    def of(cls, request: Request) -> TaskQuery:
        offset = query.offset(request, "scheduled_offset")
        page = query.whole(request, "scheduled_page", 0, 1, query.LARGEST_OFFSET)
        if page:
            offset = (page - 1) * console_of(request).settings.page_size
        after = query.text(request, "scheduled_after")
        return cls(
            query.text(request, "q") or "",
            query.stream_id(request, "running_after"),
            query.queued_cursor(request, "queued_after"),
            offset,
            after,
            query.moment(request, "scheduled_at") if after else 0.0,
        )

    async def read(self, console: Console) -> dict[str, Any]:
        offset = self.scheduled_offset
        docket = await console.ready()
        if self.scheduled_after is not None and not self.q:
            position = docket.broker.views.scheduled_position
            offset = await position(self.scheduled_after, self.scheduled_at)
        found = await views.tasks(
            console, self.q, self.running_after, self.queued_after, offset
        )
        found["scheduled_offset"] = offset
        found["page_size"] = console.settings.page_size
        found["running_after"], found["queued_after"] = (
            self.running_after,
            self.queued_after,
        )
        return found


async def _read(request: Request) -> dict[str, Any]:
    return await TaskQuery.of(request).read(console_of(request))


LONGEST_DELAY = query.LONGEST_SPAN.total_seconds()


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


async def send_signal(request: Request) -> Response:
    """Send a signal from the dashboard: its name, and a payload written as JSON
    (empty: None)."""

    async def body(fields: dict[str, str]) -> str:
        name = required(fields, "name")
        text = fields.get("payload", "")
        try:
            payload = json.loads(text) if text else None
        except ValueError:
            raise ValueError("the payload must be JSON (or empty)") from None
        docket = console_of(request).docket
        if await docket.signal(name, payload):
            return f"Signal {name} sent: a waiting task received it"
        if docket.signal_lookback > timedelta(0):
            return f"Signal {name} kept: no task was waiting for it"
        return f"Signal {name} dropped: no task was waiting for it"

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
            seconds = float(required(fields, "delay"))
        except ValueError:
            raise ValueError("delay must be a number of seconds") from None
        if not math.isfinite(seconds) or not 0 <= seconds <= LONGEST_DELAY:
            raise ValueError(f"delay must be from 0 to {LONGEST_DELAY:.0f} seconds")
        delay = timedelta(seconds=seconds)
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
        Route("/tasks/signal", send_signal, methods=["POST"]),
        Route("/tasks/run-now", run_now, methods=["POST"]),
        Route("/tasks/reschedule", reschedule, methods=["POST"]),
    ]
