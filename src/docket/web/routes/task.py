"""``/tasks/{key}``: one task's page (state, timeline with every attempt,
arguments, result or exception, progress) and the actions that apply to it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..._console import task_report as _task_report
from ...docket import Docket
from ..console import Console
from ..pages import console_of, data, page


async def report(console: Console, key: str) -> _task_report.TaskReport:
    docket: Docket = await console.ready()
    return await _task_report.task_report(docket, key, console.settings.unpickle)


def _key(request: Request) -> str:
    return str(request.path_params["key"])


async def task_page(request: Request) -> Response:
    found = await report(console_of(request), _key(request))
    live = {"page": "task", "key": found.key}
    response = page(request, "task.html", "tasks", live, report=found)
    if found.state is None:
        response.status_code = 404
    return response


async def task_api(request: Request) -> Response:
    found = await report(console_of(request), _key(request))
    response = data(found.as_dict())
    if found.state is None:
        response.status_code = 404
    return response


def routes() -> list[Route]:
    return [
        Route("/tasks/{key:path}", task_page),
        Route("/api/tasks/{key:path}", task_api),
    ]
