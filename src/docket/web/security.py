"""Safe by default: with a token set, every page, ``/api/`` route and the live
stream need it (a session from ``/login``, or a bearer token) unless reads are
public; actions need it always, never work in read-only mode, and carry a CSRF
token (double-submit cookie) from the same origin, or a custom header that
browsers cannot send across sites. Wrong tokens are counted per address."""

from __future__ import annotations

import hmac
import re
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)

from .console import Console
from .hosts import ASGIApp, Receive, Scope, Send

CSRF_COOKIE = "docket_csrf"
CSRF_FIELD = "csrf"
SESSION_COOKIE = "docket_session"
ACTION_HEADER = "x-docket-action"  # API clients: any value, plus the token if set
_CSRF_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
OPEN_PATHS = ("/login", "/logout")  # and /static/: no token needed


class BadSecret(ValueError):
    """A secret (bearer, token field, CSRF token) that is not ASCII text."""


def same_secret(sent: str, expected: str) -> bool:
    """Constant-time comparison of ASCII secrets; BadSecret when ``sent`` is
    not ASCII (no token or CSRF token we issue ever is)."""
    if not sent.isascii():
        raise BadSecret("a token must be ASCII text")
    return hmac.compare_digest(sent.encode(), expected.encode())


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def csrf_token(request: Request) -> str:
    """This browser's CSRF token (a new one when it has none yet)."""
    existing = request.cookies.get(CSRF_COOKIE, "")
    if _CSRF_SHAPE.match(existing):
        return existing
    token = request.scope.setdefault("docket.csrf", secrets.token_urlsafe(32))
    return str(token)


def cookie_path(request: Request) -> str:
    return request.scope.get("root_path") or "/"


def remember_csrf(request: Request, response: Response) -> Response:
    token = request.scope.get("docket.csrf")
    if token is not None:
        response.set_cookie(
            CSRF_COOKIE,
            str(token),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path=cookie_path(request),
        )
    return response


def has_session(console: Console, request: Request) -> bool:
    return console.sessions.valid(request.cookies.get(SESSION_COOKIE, ""))


def signed_in(console: Console, request: Request) -> bool:
    """True when no token is set, or the request carries a valid session or
    bearer token (never raises; counts nothing)."""
    token = console.settings.token
    if token is None or has_session(console, request):
        return True
    bearer = _bearer(request)
    return bearer is not None and bearer.isascii() and same_secret(bearer, token)


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def too_many(console: Console, request: Request) -> Response | None:
    """429 while this address has failed too often; else None."""
    wait = console.failures.retry_after(client_address(request))
    if wait is None:
        return None
    seconds = max(1, round(wait + 0.5))
    return PlainTextResponse(
        f"Too many wrong tokens from this address: try again in {seconds} s.",
        status_code=429,
        headers={"Retry-After": str(seconds)},
    )


def credentials(console: Console, request: Request) -> Response | bool:
    """True when the request may act as the token holder, False when it has no
    credentials, or the response refusing a malformed or wrong bearer token
    (400, 401, 429; a wrong one counts against the address)."""
    token = console.settings.token
    if token is None:
        return True
    bearer = _bearer(request)
    if bearer is None:
        return has_session(console, request)
    limited = too_many(console, request)
    if limited is not None:
        return limited
    try:
        if same_secret(bearer, token):
            return True
    except BadSecret as error:
        return JSONResponse({"error": f"Bad bearer token: {error}."}, 400)
    console.failures.fail(client_address(request))
    return JSONResponse({"error": "Wrong bearer token."}, status_code=401)


def route_path(scope: Scope) -> str:
    """The request's path inside the dashboard (without where it is mounted)."""
    path, root = str(scope.get("path", "")), str(scope.get("root_path", ""))
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path


class AccessGuard:
    """ASGI middleware: with a token set, nothing but ``/login``, ``/logout``
    and ``/static/`` answers without it (reads do with ``public_read``).
    A page sends an anonymous browser to ``/login``; the rest answer 401."""

    def __init__(self, app: ASGIApp, console: Console) -> None:
        self.app, self.console = app, console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        settings = self.console.settings
        if scope["type"] != "http" or settings.token is None:
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        reading = scope.get("method") in ("GET", "HEAD")
        if (
            path in OPEN_PATHS
            or path.startswith("/static/")
            or (reading and settings.public_read)
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        allowed = credentials(self.console, request)
        if allowed is True:
            await self.app(scope, receive, send)
            return
        if allowed is False:
            root = str(scope.get("root_path", ""))
            if reading and not path.startswith("/api/"):
                allowed = RedirectResponse(f"{root}/login", status_code=303)
            else:
                allowed = JSONResponse(
                    {
                        "error": f"A token is required: sign in at {root}/login or "
                        "send Authorization: Bearer <token>."
                    },
                    status_code=401,
                )
        await allowed(scope, receive, send)


def same_origin(request: Request) -> bool:
    """The request's Origin (or Referer) names this dashboard's own host, or the
    browser sent neither."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def csrf_refusal(request: Request) -> Response | None:
    """None when the form carries this browser's CSRF token and the request
    comes from the same origin; else the 403 (or 400) that refuses it."""
    if not same_origin(request):
        return PlainTextResponse("Cross-site request refused.", status_code=403)
    form = await request.form()
    sent = str(form.get(CSRF_FIELD, ""))
    cookie = request.cookies.get(CSRF_COOKIE, "")
    try:
        matches = bool(sent and cookie) and same_secret(sent, cookie)
    except BadSecret:
        return PlainTextResponse("Bad CSRF token: not ASCII text.", status_code=400)
    if not matches:
        return PlainTextResponse("Missing or stale CSRF token.", status_code=403)
    return None


async def refuse_action(console: Console, request: Request) -> Response | None:
    """None when the action may go ahead; else the response that refuses it."""
    if console.settings.read_only:
        return PlainTextResponse("This dashboard is read-only.", status_code=403)
    allowed = credentials(console, request)
    if isinstance(allowed, Response):
        return allowed
    if not allowed:
        root = request.scope.get("root_path", "")
        return PlainTextResponse(
            f"A valid token is required: sign in at {root}/login, or send "
            "Authorization: Bearer <token>.",
            status_code=401,
        )
    if ACTION_HEADER in request.headers:
        return None  # not sendable cross-site without a CORS preflight we refuse
    return await csrf_refusal(request)
