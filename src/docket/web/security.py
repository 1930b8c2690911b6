"""Safe by default: actions need the token when one is set, never work in
read-only mode, and carry a CSRF token (double-submit cookie) or a custom header
that browsers cannot send across sites."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from .console import Console

CSRF_COOKIE = "docket_csrf"
CSRF_FIELD = "csrf"
SESSION_COOKIE = "docket_session"
ACTION_HEADER = "x-docket-action"  # API clients: any value, plus the token if set


def session_value(token: str) -> str:
    """The session cookie for ``token`` (the token itself never goes in a cookie)."""
    return hmac.new(token.encode(), b"docket-dashboard", hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """This browser's CSRF token (a new one when it has none yet)."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing and len(existing) >= 32:
        return existing
    token = request.scope.setdefault("docket.csrf", secrets.token_urlsafe(32))
    return str(token)


def remember_csrf(request: Request, response: Response) -> Response:
    token = request.scope.get("docket.csrf")
    if token is not None:
        response.set_cookie(
            CSRF_COOKIE,
            str(token),
            httponly=True,
            samesite="strict",
            path=request.scope.get("root_path") or "/",
        )
    return response


def signed_in(console: Console, request: Request) -> bool:
    token = console.settings.token
    if token is None:
        return True
    bearer = request.headers.get("authorization", "")
    if bearer.startswith("Bearer ") and hmac.compare_digest(bearer[7:], token):
        return True
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return hmac.compare_digest(cookie, session_value(token))


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def refuse_action(console: Console, request: Request) -> Response | None:
    """None when the action may go ahead; else the response that refuses it."""
    if console.settings.read_only:
        return PlainTextResponse("This dashboard is read-only.", status_code=403)
    if not signed_in(console, request):
        root = request.scope.get("root_path", "")
        return PlainTextResponse(
            f"A valid token is required: sign in at {root}/login, or send "
            "Authorization: Bearer <token>.",
            status_code=401,
        )
    if ACTION_HEADER in request.headers:
        return None  # not sendable cross-site without a CORS preflight we refuse
    if not _same_origin(request):
        return PlainTextResponse("Cross-site request refused.", status_code=403)
    form = await request.form()
    sent = str(form.get(CSRF_FIELD, ""))
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not sent or not cookie or not hmac.compare_digest(sent, cookie):
        return PlainTextResponse("Missing or stale CSRF token.", status_code=403)
    return None
