"""The counting FairShare task of the in-process fair-share tests: ``render``
counts each (value, n) run in ``RAN``, which each test module using it clears
before every test."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from docket import FairShare

RAN: Counter[str] = Counter()


async def render(n: int, tenant: Annotated[str, FairShare()]) -> None:
    """A FairShare task: counts each (value, n) run."""
    RAN[f"{tenant}/{n}"] += 1
