"""``/workers/{name}``: one worker: its heartbeat, concurrency, the messages it
holds, the task types it serves and the tasks it is running now."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import _codec
from ..console import Console
from ..pages import console_of, data, page
from ..rows import task_row

RUNNING_SCAN = 1_000  # running entries examined for this worker's


async def worker(console: Console, name: str) -> dict[str, Any] | None:
    docket = await console.ready()
    found = next((w for w in await docket.workers() if w.name == name), None)
    if found is None:
        return None
    capacity, held = await docket.broker.views.worker_details()
    listed = await docket.broker.views.running_page(RUNNING_SCAN, None)
    mine = [item for item in listed if item.consumer == name]
    rows = [
        task_row(item, console.settings.unpickle, docket.codec)
        for item in mine[: console.settings.page_size]
    ]
    return {
        "name": found.name,
        "tasks": sorted(found.tasks),
        "concurrency": capacity.get(found.name),
        "in_flight": held.get(found.name, 0),
        "last_seen": _codec.iso(found.last_seen),
        "running": [row.as_dict() for row in rows],
    }


def _name(request: Request) -> str:
    return str(request.path_params["name"])


async def worker_page(request: Request) -> Response:
    name = _name(request)
    found = await worker(console_of(request), name)
    response = page(
        request,
        "worker.html",
        "workers",
        {"page": "worker", "name": name},
        worker_name=name,
        worker=found,
    )
    if found is None:
        response.status_code = 404
    return response


async def worker_api(request: Request) -> Response:
    found = await worker(console_of(request), _name(request))
    return data(found) if found is not None else data({"error": "no such worker"}, 404)


def routes() -> list[Route]:
    return [
        Route("/workers/{name:path}", worker_page),
        Route("/api/workers/{name:path}", worker_api),
    ]
