"""Docket's pytest plugin: fixtures for testing code that uses Docket.

Installed with docket and registered through the ``pytest11`` entry point
(``-p no:docket`` leaves it out), it only adds three fixtures, none automatic:

- ``memory_docket``: a fresh, opened ``memory://`` Docket with its own name,
  closed after the test;
- ``docket_runner``: a ``DocketRunner`` (a worker) for it:
  ``await docket_runner.until_idle()`` runs everything due now;
- ``docket_clock``: a ``VirtualClock``: ``await docket_clock.advance(hours=3)``
  moves time forward and runs what comes due on the way, without sleeping.

This module is apart from the ``docket`` package so that loading the plugin
imports nothing of docket: a session that uses none of these fixtures runs as
it would without docket installed. The classes live in ``docket.contrib.pytest``.
The fixtures are async and need pytest-asyncio (auto or strict mode).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from docket.contrib.pytest import DocketRunner, VirtualClock
    from docket.docket import Docket

__all__ = ["docket_clock", "docket_runner", "memory_docket"]

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - only without pytest-asyncio
    pytest_asyncio = None


def _needs_pytest_asyncio(name: str) -> Any:  # pragma: no cover - see above
    @pytest.fixture(name=name)
    def missing() -> None:
        pytest.fail(
            f"docket's {name} fixture is async and needs pytest-asyncio "
            "(pip install pytest-asyncio)",
            pytrace=False,
        )

    return missing


if pytest_asyncio is None:  # pragma: no cover - only without pytest-asyncio
    memory_docket = _needs_pytest_asyncio("memory_docket")
    docket_runner = _needs_pytest_asyncio("docket_runner")
    docket_clock = _needs_pytest_asyncio("docket_clock")
else:

    @pytest_asyncio.fixture
    async def memory_docket() -> AsyncIterator[Docket]:
        """A fresh, opened memory:// Docket with its own name, closed after."""
        from docket.docket import Docket

        name = f"test-{uuid.uuid4().hex[:12]}"
        # Signed with a key of its own: the worker has nothing to warn about.
        keys = [secrets.token_hex(32)]
        async with Docket(name=name, url=f"memory://{name}", signing_keys=keys) as d:
            yield d

    @pytest_asyncio.fixture
    async def docket_runner(memory_docket: Docket) -> AsyncIterator[DocketRunner]:
        """A worker for ``memory_docket``: ``await docket_runner.until_idle()``."""
        from docket.contrib.pytest import DocketRunner

        async with DocketRunner(memory_docket) as runner:
            yield runner

    @pytest.fixture
    def docket_clock(docket_runner: DocketRunner) -> Iterator[VirtualClock]:
        """A virtual clock for ``memory_docket``, in use for the whole test."""
        from docket.contrib.pytest import VirtualClock

        with VirtualClock(docket_runner) as clock:
            yield clock
