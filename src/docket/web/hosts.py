"""Which ``Host`` names the dashboard answers to: the loopback names, the name it
was bound to and the names it was given. Any other ``Host`` (a name an attacker
points at 127.0.0.1: DNS rebinding) is a 400 on every route, before anything
else runs."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from .. import _defaults

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ANY_HOST = "*"
WILDCARD_ADDRESSES = frozenset({"", "0.0.0.0", "::", "[::]"})
_NAME = r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?)"
_HOST = re.compile(rf"^{_NAME}(:[0-9]{{1,5}})?$")
_ENTRY = re.compile(rf"^{_NAME}$")


def _canonical(name: str) -> str:
    return name.lower().rstrip(".")


def host_name(header: str) -> str | None:
    """The name part of a ``Host`` header (``example.com``, ``[::1]``), lower
    case and without a trailing dot; None when the header is not a host name
    with an optional port."""
    match = _HOST.match(header)
    return _canonical(match.group(1)) if match else None


def allowed_name(entry: str) -> str:
    """A configured name in the form ``host_name`` returns: ``Example.COM.`` is
    ``example.com``, ``::1`` is ``[::1]``; ``*`` (every name) stays. ValueError
    for a name with a port or one that is not a host name."""
    entry = entry.strip()
    if entry == ANY_HOST:
        return entry
    if entry.count(":") >= 2 and not entry.startswith("["):
        entry = f"[{entry}]"  # a bare IPv6 address
    if not _ENTRY.match(entry):
        raise ValueError(
            f"{entry!r} is not a host name (give the name only, without a scheme "
            "or a port, or * for every name)"
        )
    return _canonical(entry)


def allowed_names(*groups: Iterable[str]) -> frozenset[str]:
    """The loopback names plus every name of ``groups`` (comma-separated text
    is split), normalised; a wildcard listening address is left out."""
    names: set[str] = set(_defaults.DASHBOARD_HOSTS)
    for group in groups:
        for item in group:
            for entry in item.split(","):
                if entry.strip() in WILDCARD_ADDRESSES:
                    continue
                names.add(allowed_name(entry))
    return frozenset(names)


class HostCheck:
    """ASGI middleware: a request whose ``Host`` is not allowed gets 400."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or ANY_HOST in self.allowed:
            await self.app(scope, receive, send)
            return
        header = ""
        for name, value in scope.get("headers", []):
            if name == b"host":
                header = value.decode("latin-1")
                break
        host = host_name(header)
        if host is not None and host in self.allowed:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        shown = repr(header[:100]) if header else "no Host header"
        await _refuse(
            send,
            f"Bad request: this dashboard does not answer to {shown}. If that "
            "name is yours, start it with --allowed-host NAME (or add NAME to "
            f"{_defaults.ENV_DASHBOARD_ALLOWED_HOSTS}).\n",
        )


async def _refuse(send: Send, text: str) -> None:
    body = text.encode("utf-8", "backslashreplace")
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
