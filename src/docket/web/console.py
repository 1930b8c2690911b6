"""What every page shares: the docket (entered on first use when the host did not
enter it), the dashboard's settings, and the templates."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from .. import _defaults
from .._redis import redact_url
from ..docket import Docket


def template_environment() -> Environment:
    folder = resources.files("docket.web").joinpath("templates")
    return Environment(
        loader=FileSystemLoader(str(folder)),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


@dataclass
class Settings:
    """How a dashboard behaves (see ``create_app``)."""

    token: str | None = None
    read_only: bool = False
    unpickle: bool = False
    page_size: int = _defaults.DASHBOARD_PAGE_SIZE
    tick: float = _defaults.DASHBOARD_TICK.total_seconds()

    @classmethod
    def from_environment(
        cls, token: str | None, read_only: bool, unpickle: bool
    ) -> Settings:
        if token is None:
            token = os.environ.get(_defaults.ENV_DASHBOARD_TOKEN) or None
        return cls(token=token or None, read_only=read_only, unpickle=unpickle)


@dataclass
class Console:
    docket: Docket
    settings: Settings
    templates: Environment = field(default_factory=template_environment)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _entered_here: bool = False

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

    async def close(self) -> None:
        if self._entered_here:
            self._entered_here = False
            await self.docket.__aexit__(None, None, None)

    def render(self, name: str, **context: Any) -> str:
        return self.templates.get_template(name).render(**context)
