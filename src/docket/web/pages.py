"""Helpers every route module uses: the console of a request, rendering a page
(with its CSRF cookie), reading query parameters, redirects with a notice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, NoReturn
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from . import query
from .console import Console
from .security import csrf_token, has_session, remember_csrf, signed_in

NAVIGATION = [
    ("overview", "/", "Overview"),
    ("tasks", "/tasks", "Tasks"),
    ("failed", "/failed", "Failed"),
    ("dead", "/dead", "Dead letters"),
    ("workers", "/workers", "Workers"),
    ("strikes", "/strikes", "Strikes"),
]


def console_of(request: Request) -> Console:
    return request.app.state.console


def base_of(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def page(
    request: Request,
    template: str,
    name: str,
    live: dict[str, str] | None = None,
    **context: Any,
) -> Response:
    """Render ``template`` as the page ``name`` (its navigation entry); its live
    stream gets ``live`` (default: the page's name and query parameters)."""
    console = console_of(request)
    console.outage.over()  # the page's data was read: Redis answers
    settings = console.settings
    allowed = signed_in(console, request)
    html = console.render(
        template,
        page=name,
        base=base_of(request),
        navigation=NAVIGATION,
        docket_name=console.docket.name,
        docket_url=console.safe_url,
        csrf=csrf_token(request),
        read_only=settings.read_only,
        needs_login=not allowed,
        can_sign_out=settings.token is not None and has_session(console, request),
        notice=query.text(request, "notice"),
        live_query=(
            urlencode(live or {"page": name, **dict(request.query_params)})
            if allowed or settings.public_read
            else None
        ),
        **context,
    )
    return remember_csrf(request, HTMLResponse(html))


def data(document: Any, status: int = 200) -> Response:
    return JSONResponse(document, status_code=status)


def back(request: Request, path: str, notice: str, **params: str) -> Response:
    """Redirect (303) to ``path`` of this dashboard with a notice to show."""
    query = urlencode({**{k: v for k, v in params.items() if v}, "notice": notice})
    return RedirectResponse(f"{base_of(request)}{path}?{query}", status_code=303)


def text(request: Request, name: str) -> str | None:
    """A text parameter (see ``query.text``): None when empty, 400 when too long."""
    return query.text(request, name)


def minutes(request: Request, name: str) -> timedelta | None:
    """A positive number of minutes from the query, or None (400 if bad)."""
    return query.minutes(request, name)


def bad_request(message: str) -> NoReturn:
    """A 400 for a page or /api/ route (``create_app`` answers it per kind)."""
    raise query.BadQuery(message)
