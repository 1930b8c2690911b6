"""Running an action: refuse it when it is not allowed, answer a browser with a
redirect and a notice, an API client with JSON."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from ..pages import back, console_of
from ..security import ACTION_HEADER, refuse_action

Body = Callable[[dict[str, str]], Awaitable[str]]
# A form's "back" field: the page an action returns to (field naming it, path).
BACK = {"task": ("key", "/tasks/"), "task-type": ("task", "/task-types/")}


class Malformed(ValueError):
    """A request no page of ours sends (a missing or unknown field): 400 for
    browsers too, not a redirect back with a notice."""


async def act(request: Request, path: str, body: Body) -> Response:
    """Check the request, read its form, run ``body`` (which returns the notice)."""
    console = console_of(request)
    refused = await refuse_action(console, request)
    if refused is not None:
        return refused
    form = await request.form()
    fields = {name: str(value).strip() for name, value in form.items()}
    api = ACTION_HEADER in request.headers
    origin = BACK.get(fields.get("back", ""))
    if origin is not None and fields.get(origin[0]):  # a task's or type's page
        path = origin[1] + quote(fields[origin[0]])
    try:
        notice = await body(fields)
    except Malformed as error:
        if api:
            return JSONResponse({"error": str(error)}, status_code=400)
        return PlainTextResponse(f"Bad request: {error}", status_code=400)
    except (ValueError, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) else str(error)
        if api:
            return JSONResponse({"error": str(message)}, status_code=400)
        return back(request, path, f"Error: {message}", **_keep(fields))
    if api:
        return JSONResponse({"ok": True, "notice": notice})
    return back(request, path, notice, **_keep(fields))


def _keep(fields: dict[str, Any]) -> dict[str, str]:
    """Filters to keep on the page the action returns to."""
    kept = ("q", "task", "error_type", "since")
    return {name: str(fields[name]) for name in kept if fields.get(name)}


def required(fields: dict[str, str], name: str) -> str:
    value = fields.get(name, "")
    if not value:
        raise ValueError(f"{name} is required")
    return value
