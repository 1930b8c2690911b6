"""``Progress``: report progress from inside a task (spec 5.18)."""

from __future__ import annotations

from typing import ClassVar

from uncalled_for import Provider

from ..execution import ExecutionProgress
from ._context import current_execution


class Progress(Provider["Progress"]):
    """Progress reporting bound to the current execution's ``ExecutionProgress``.

    ``current``, ``total`` and ``message`` hold the local values; the ``set_total``,
    ``increment`` and ``set_message`` methods update Redis and publish an event.
    Using it outside a worker fails an assertion.
    """

    available: ClassVar[bool] = True

    def __init__(self) -> None:
        self._progress: ExecutionProgress | None = None

    async def __aenter__(self) -> Progress:
        progress = Progress()
        progress._progress = current_execution.get().progress
        return progress

    @property
    def _bound(self) -> ExecutionProgress:
        assert self._progress is not None, (
            "Progress is only available inside a task run by a docket worker"
        )
        return self._progress

    @property
    def current(self) -> int | None:
        return self._bound.current

    @property
    def total(self) -> int:
        return self._bound.total

    @property
    def message(self) -> str | None:
        return self._bound.message

    async def set_total(self, total: int) -> None:
        """Set the expected total (at least 1)."""
        await self._bound.set_total(total)

    async def increment(self, amount: int = 1) -> None:
        """Advance ``current`` by ``amount`` (at least 1)."""
        await self._bound.increment(amount)

    async def set_message(self, message: str | None) -> None:
        """Set the status message; None clears it."""
        await self._bound.set_message(message)
