"""``/task-types/{name}``: one task type's figures (completed, failed, retried;
runtime and queue-wait p50/p95 over the last hour and day, from the per-window
timings the settle script keeps), the workers serving it, pausing it (its
work waits, queued or scheduled, until it is resumed), and for a FairShare task
its backlogs per value and the values' weights (set and cleared here)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import _codec
from .._timing_rows import SPANS, figures, timings
from ..console import Console
from ..pages import console_of, data, page
from ._actions import act, required


async def task_type(console: Console, name: str) -> dict[str, Any]:
    docket = await console.ready()
    spans = {label: await timings(console, minutes) for label, minutes in SPANS}
    pauses = {pause.task: pause for pause in await docket.pauses()}
    serving = sorted(info.name for info in await docket.task_workers(name))
    pause = pauses.get(name)
    backlogs = await docket.broker.fair.depths(name)  # this task's alone
    weights = {
        value: weight
        for (task, value), weight in (await docket.fair_share_weights()).items()
        if task == name
    }
    return {
        "task": name,
        "figures": {
            label: figures(timings.get(name)) for label, timings in spans.items()
        },
        "paused": pause is not None,
        "paused_since": _codec.iso(pause.since) if pause and pause.since else None,
        "waiting": pause.waiting if pause else None,
        "workers": serving,
        "fair_share": [
            {"value": d.value, "queued": d.queued, "weight": d.weight} for d in backlogs
        ],
        "fair_share_weights": [
            {"value": value, "weight": weight}
            for value, weight in sorted(weights.items())
        ],
        "known": bool(serving)
        or any(name in t for t in spans.values())
        or bool(pause)
        or bool(backlogs)
        or bool(weights),
    }


def _name(request: Request) -> str:
    return str(request.path_params["name"])


async def task_type_page(request: Request) -> Response:
    found = await task_type(console_of(request), _name(request))
    live = {"page": "task-type", "name": found["task"]}
    response = page(request, "task_type.html", "overview", live, **found)
    if not found["known"]:
        response.status_code = 404
    return response


async def task_type_api(request: Request) -> Response:
    found = await task_type(console_of(request), _name(request))
    return data(found) if found["known"] else data(found, 404)


async def pause(request: Request) -> Response:
    async def body(fields: dict[str, str]) -> str:
        name = required(fields, "task")
        await console_of(request).docket.pause(name)
        return f"Paused {name}: its tasks wait until it is resumed"

    return await act(request, "/", body)


async def resume(request: Request) -> Response:
    async def body(fields: dict[str, str]) -> str:
        name = required(fields, "task")
        released = await console_of(request).docket.resume(name)
        return f"Resumed {name} ({released} waiting tasks released)"

    return await act(request, "/", body)


async def fair_share_weight(request: Request) -> Response:
    """Set (field ``weight``) or clear (field ``clear``) one value's weight."""

    async def body(fields: dict[str, str]) -> str:
        name = required(fields, "task")
        value = fields.get("value", "")
        docket = console_of(request).docket
        if fields.get("clear"):
            await docket.clear_fair_share_weight(name, value)
            return f"Weight of {value!r} cleared (back to 1)"
        try:
            weight = float(required(fields, "weight"))
        except ValueError:
            raise ValueError("weight must be a positive number") from None
        await docket.set_fair_share_weight(name, value, weight)
        return f"Weight of {value!r} set to {weight:g}"

    return await act(request, "/", body)


def routes() -> list[Route]:
    return [
        Route("/task-types/fair-share-weight", fair_share_weight, methods=["POST"]),
        Route("/task-types/pause", pause, methods=["POST"]),
        Route("/task-types/resume", resume, methods=["POST"]),
        Route("/task-types/{name:path}", task_type_page),
        Route("/api/task-types/{name:path}", task_type_api),
    ]
