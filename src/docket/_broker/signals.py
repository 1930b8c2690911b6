"""The worker's signals: cancel requests for running tasks and scheduler wake-ups.

One pub/sub connection per worker session receives them all, through one pattern
subscription to ``P:cancel:*`` (wake-ups are published on ``P:cancel:wake``, pauses
and resumes on ``P:cancel:paused``; a cancel of a task keyed ``wake`` or ``paused``
is told apart by its payload, the task key), so a user granted only pydocket's ``&P:cancel:*``,
``&P:state:*`` and ``&P:progress:*`` channel rules can run a worker. Redis checks
PSUBSCRIBE patterns *literally* against a user's channel rules, so a user granted
only ``&P:*`` may not subscribe ``P:cancel:*``; then the pattern ``P:*`` is used
instead and only what the worker needs is kept.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

from redis.exceptions import NoPermissionError

from .._text import as_text
from .store import Store


@dataclass(frozen=True, slots=True)
class Signal:
    """``cancel`` (with the task key), ``wake`` (the earliest due time moved) or
    ``paused`` (a task type was paused or resumed)."""

    kind: Literal["cancel", "wake", "paused", "lanes"]
    key: str = ""


class WorkerSignals:
    """Cancel signals and wake-ups, from the moment ``open()`` returns."""

    def __init__(self, ops: SignalStore) -> None:
        self._ops = ops
        self._pubsub: Any = None

    async def open(self) -> None:
        keys = self._ops.keys
        patterns = [keys.cancel_pattern, keys.key("*")]
        for pattern in patterns:
            pubsub: Any = self._ops.backend.pubsub()
            try:
                await pubsub.psubscribe(pattern)
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message["type"] == "psubscribe":
                        break
                self._pubsub = pubsub
                return
            except NoPermissionError:
                await pubsub.aclose()
                if pattern == patterns[-1]:
                    raise
            except BaseException:
                await pubsub.aclose()
                raise

    async def next(self, timeout: float) -> Signal | None:
        """The next signal, or None when none came within ``timeout`` seconds."""
        keys = self._ops.keys
        message = await self._pubsub.get_message(
            ignore_subscribe_messages=True, timeout=timeout
        )
        if message is None:
            await asyncio.sleep(0)
            return None
        channel = as_text(message["channel"])
        if message["type"] != "pmessage":
            return None
        if channel == keys.wake:
            # Also the cancel channel of a task keyed "wake": a cancel carries the
            # key, a wake-up the due time.
            data = as_text(message["data"])
            if data == "wake":
                return Signal("cancel", "wake")
            if data == "lanes":  # a priority lane went from empty to not (_lanes.lua)
                return Signal("lanes")
            return Signal("wake")
        if channel == keys.pause_signal:
            if as_text(message["data"]) == "paused":  # a cancel of the task keyed so
                return Signal("cancel", "paused")
            return Signal("paused")
        if channel.startswith(keys.cancel_channel("")):
            return Signal("cancel", as_text(message["data"]))
        return None

    async def close(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            await pubsub.aclose()

    async def __aenter__(self) -> WorkerSignals:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class SignalStore(Store):
    def open(self) -> WorkerSignals:
        """This docket's cancel signals and wake-ups (use as ``async with``)."""
        return WorkerSignals(self)
