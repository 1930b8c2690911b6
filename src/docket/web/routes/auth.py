"""``/login`` and ``/logout``: a session cookie for the dashboard token. A
session lasts ``session_lifetime`` (12 hours) or until sign-out; wrong tokens
are limited per address (429 past the limit)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from ..pages import base_of, console_of, page
from ..security import (
    SESSION_COOKIE,
    BadSecret,
    client_address,
    cookie_path,
    csrf_refusal,
    same_secret,
    too_many,
)


async def login_page(request: Request) -> Response:
    return page(request, "login.html", "login")


async def login(request: Request) -> Response:
    console = console_of(request)
    token = console.settings.token
    refused = too_many(console, request) or await csrf_refusal(request)
    if refused is not None:
        return refused
    if token is None:
        return RedirectResponse(f"{base_of(request)}/", status_code=303)
    sent = str((await request.form()).get("token", ""))
    try:
        right = same_secret(sent, token)
    except BadSecret:
        return PlainTextResponse("Bad token: not ASCII text.", status_code=400)
    if not right:
        console.failures.fail(client_address(request))
        return RedirectResponse(
            f"{base_of(request)}/login?notice=Wrong+token", status_code=303
        )
    response = RedirectResponse(f"{base_of(request)}/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        console.sessions.open(),
        max_age=int(console.sessions.lifetime),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=cookie_path(request),
    )
    return response


async def logout(request: Request) -> Response:
    """Ends this browser's session (here, not only in the browser); a form post
    from this dashboard with its CSRF token, like every action."""
    refused = await csrf_refusal(request)
    if refused is not None:
        return refused
    console = console_of(request)
    console.sessions.close(request.cookies.get(SESSION_COOKIE, ""))
    after = "/login" if console.settings.token is not None else "/"
    response = RedirectResponse(f"{base_of(request)}{after}", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=cookie_path(request))
    return response


def routes() -> list[Route]:
    return [
        Route("/login", login_page),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
    ]
