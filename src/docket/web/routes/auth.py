"""``/login`` and ``/logout``: a session cookie for the dashboard token."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from ..pages import base_of, console_of, page
from ..security import CSRF_COOKIE, CSRF_FIELD, SESSION_COOKIE, session_value


async def login_page(request: Request) -> Response:
    return page(request, "login.html", "login")


async def login(request: Request) -> Response:
    console = console_of(request)
    token = console.settings.token
    form = await request.form()
    sent_csrf = str(form.get(CSRF_FIELD, ""))
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not sent_csrf or not hmac.compare_digest(sent_csrf, cookie):
        return PlainTextResponse("Missing or stale CSRF token.", status_code=403)
    if token is None:
        return RedirectResponse(f"{base_of(request)}/", status_code=303)
    if not hmac.compare_digest(str(form.get("token", "")), token):
        return RedirectResponse(
            f"{base_of(request)}/login?notice=Wrong+token", status_code=303
        )
    response = RedirectResponse(f"{base_of(request)}/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_value(token),
        httponly=True,
        samesite="strict",
        path=request.scope.get("root_path") or "/",
    )
    return response


async def logout(request: Request) -> Response:
    response = RedirectResponse(f"{base_of(request)}/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=request.scope.get("root_path") or "/")
    return response


def routes() -> list[Route]:
    return [
        Route("/login", login_page),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
    ]
