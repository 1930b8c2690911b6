"""``Timeout``: the runtime that limits how long the task body may run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, ClassVar

from typing_extensions import Self

from .._calling import call_task
from ..execution import Execution
from ._base import Runtime


class Timeout(Runtime["Timeout"]):
    """Cancel the task body and fail with ``TimeoutError`` once ``base`` has passed.

    The body may push the deadline out with ``extend()`` and inspect it with
    ``remaining()`` and ``expired()``. Only the body is timed, not dependency
    resolution.
    """

    available: ClassVar[bool] = True

    base: timedelta

    def __init__(self, base: timedelta) -> None:
        self.base = base
        self._deadline = time.monotonic() + base.total_seconds()

    async def __aenter__(self) -> Self:
        timeout = type(self)(self.base)
        timeout.start()
        return timeout

    def start(self) -> None:
        """(Re)start the deadline at ``base`` from now."""
        self._deadline = time.monotonic() + self.base.total_seconds()

    def extend(self, by: timedelta | None = None) -> None:
        """Push the deadline out by ``by``, or by ``base`` when omitted."""
        if by is None:
            by = self.base
        self._deadline += by.total_seconds()

    def remaining(self) -> timedelta:
        """Time left before the deadline (zero once it has passed)."""
        return timedelta(seconds=max(0.0, self._deadline - time.monotonic()))

    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return time.monotonic() >= self._deadline

    async def run(
        self,
        execution: Execution,
        function: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        self.start()
        task = asyncio.ensure_future(_call(function, args, kwargs))
        try:
            while not task.done():
                remaining = self._deadline - time.monotonic()
                if remaining <= 0:
                    await _cancel_and_wait(task)
                    raise asyncio.TimeoutError(
                        f"Docket task {execution.key} exceeded timeout of "
                        f"{self.base.total_seconds()}s"
                    )
                await asyncio.wait({task}, timeout=remaining)
        except asyncio.CancelledError:
            # Cancelled from outside (docket.cancel, shutdown): take the body
            # down with us and let the cancellation propagate.
            await _cancel_and_wait(task)
            raise
        return task.result()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base!r})"


_call = call_task


async def _cancel_and_wait(task: asyncio.Future[Any]) -> None:
    """Cancel ``task`` and wait until it has really finished, ignoring its outcome.

    A cancellation of the caller while it waits is passed on to the child and
    re-raised once the child is done, so the body never outlives its runtime.
    """
    if task.done():
        return
    task.cancel()
    interrupted = False
    while not task.done():
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            interrupted = True
            task.cancel()
    if not task.cancelled():
        task.exception()  # retrieve it so asyncio does not warn it was never seen
    if interrupted:
        raise asyncio.CancelledError()
