"""What every page shares: the docket (entered on first use when the host did not
enter it), the dashboard's settings, its sign-in state, and the templates."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from .. import _defaults
from .._redis import redact_url
from ..docket import Docket
from .hosts import allowed_names
from .outage import Outage
from .sessions import FailureLimit, Sessions


def template_environment() -> Environment:
    folder = resources.files("docket.web").joinpath("templates")
    environment = Environment(
        loader=FileSystemLoader(str(folder)),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["utc"] = utc_text
    environment.filters["seconds"] = seconds_text
    return environment


def utc_text(value: object) -> str:
    """A moment (datetime, ISO text or epoch seconds) as UTC ISO to the second
    (``2026-01-31T12:00:00Z``); ``""`` for nothing or something unreadable.
    Pages show it in the browser's zone and relative (docket.js)."""
    moment: datetime | None = None
    try:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, str) and value:
            moment = datetime.fromisoformat(value)
        elif isinstance(value, int | float):
            moment = datetime.fromtimestamp(value, timezone.utc)
    except (ValueError, OverflowError, OSError):
        return ""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def seconds_text(value: float | None) -> str:
    """A duration without microseconds: ``350 ms``, ``4.2 s``, ``4 m 58 s``."""
    if value is None:
        return ""
    value = max(value, 0.0)
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 60:
        return f"{value:.1f} s"
    minutes, second = divmod(int(value), 60)
    if minutes < 60:
        return f"{minutes} m {second:02d} s"
    hours, minute = divmod(minutes, 60)
    return f"{hours} h {minute:02d} m"


@dataclass
class Settings:
    """How a dashboard behaves (see ``create_app``)."""

    token: str | None = None
    read_only: bool = False
    unpickle: bool = False
    public_read: bool = False
    allowed_hosts: frozenset[str] = frozenset(_defaults.DASHBOARD_HOSTS)
    session_lifetime: float = _defaults.DASHBOARD_SESSION_LIFETIME.total_seconds()
    page_size: int = _defaults.DASHBOARD_PAGE_SIZE
    tick: float = _defaults.DASHBOARD_TICK.total_seconds()

    @classmethod
    def from_environment(
        cls,
        token: str | None,
        read_only: bool,
        unpickle: bool,
        public_read: bool = False,
        allowed_hosts: Iterable[str] = (),
    ) -> Settings:
        """``token`` None reads ``DOCKET_DASHBOARD_TOKEN``; the allowed hosts are
        the loopback names, ``allowed_hosts`` and
        ``DOCKET_DASHBOARD_ALLOWED_HOSTS`` (comma-separated)."""
        if token is None:
            token = os.environ.get(_defaults.ENV_DASHBOARD_TOKEN) or None
        if token and not (token.isascii() and token.isprintable()):
            raise ValueError(
                "The dashboard token must be printable ASCII text (it travels in "
                "an Authorization header)"
            )
        extra = os.environ.get(_defaults.ENV_DASHBOARD_ALLOWED_HOSTS, "")
        return cls(
            token=token or None,
            read_only=read_only,
            unpickle=unpickle,
            public_read=public_read,
            allowed_hosts=allowed_names(allowed_hosts, [extra]),
        )


@dataclass
class Console:
    docket: Docket
    settings: Settings
    templates: Environment = field(default_factory=template_environment)
    sessions: Sessions = field(init=False)
    failures: FailureLimit = field(init=False)
    outage: Outage = field(init=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _entered_here: bool = False
    _ending: asyncio.Event = field(default_factory=asyncio.Event)
    _loop: asyncio.AbstractEventLoop | None = None
    # Figures read recently, by what they are: (fresh until, value).
    cache: dict[Any, tuple[float, Any]] = field(
        default_factory=dict[Any, tuple[float, Any]]
    )

    def __post_init__(self) -> None:
        self.outage = Outage(self.safe_url)
        self.sessions = Sessions(self.settings.session_lifetime)
        self.failures = FailureLimit(
            _defaults.DASHBOARD_LOGIN_FAILURES,
            _defaults.DASHBOARD_LOGIN_WINDOW.total_seconds(),
        )

    @property
    def safe_url(self) -> str:
        """The docket's URL without passwords (pages never show one)."""
        return redact_url(self.docket.url)

    async def ready(self) -> Docket:
        """The docket, entered now when nobody entered it yet."""
        async with self._lock:
            try:
                self.docket.broker  # noqa: B018 (raises while not entered)
            except RuntimeError:
                await self.docket.__aenter__()
                self._entered_here = True
        return self.docket

    @property
    def streams_ending(self) -> bool:
        return self._ending.is_set()

    def end_streams(self) -> None:
        """End every live stream at its next tick (the server is stopping); safe
        to call from any thread."""
        loop = self._loop
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if loop is not None and loop is not current and not loop.is_closed():
            loop.call_soon_threadsafe(self._ending.set)
        else:
            self._ending.set()

    async def pause(self, seconds: float) -> None:
        """Wait ``seconds``, or less when the live streams are told to end."""
        self._loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(self._ending.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    async def close(self) -> None:
        self.end_streams()
        if self._entered_here:
            self._entered_here = False
            await self.docket.__aexit__(None, None, None)

    def render(self, name: str, **context: Any) -> str:
        return self.templates.get_template(name).render(**context)
