"""``Agenda``: collect task calls, then scatter them evenly over a time window."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar, overload

from . import _clock
from ._keys import GeneratedKey, uuid7
from .docket import Docket
from .execution import Execution
from .execution import TaskFunction as TaskFunction

P = ParamSpec("P")
R = TypeVar("R")

AgendaEntry = tuple[
    Callable[..., Awaitable[Any]] | str, tuple[Any, ...], dict[str, Any], str | None
]


class Agenda:
    """Task calls recorded with ``add``, scheduled over a window by ``scatter``.

    The agenda is reusable: scattering does not consume it. Entries added
    without a key get a fresh uuid7 key on *each* scatter, so scattering the
    same agenda twice schedules duplicates unless stable keys are given.
    """

    def __init__(self) -> None:
        self._entries: list[AgendaEntry] = []

    @overload
    def add(
        self, function: Callable[P, Awaitable[R]], key: str | None = None
    ) -> Callable[P, None]: ...

    @overload
    def add(self, function: str, key: str | None = None) -> Callable[..., None]: ...

    def add(
        self, function: Callable[..., Awaitable[Any]] | str, key: str | None = None
    ) -> Callable[..., None]:
        """Return a callable that records a call of ``function`` with its arguments."""
        if not isinstance(function, str) and not callable(function):
            raise TypeError(
                f"Agenda.add needs a task function or a task name, not {function!r}"
            )
        if key is not None and not isinstance(key, str):
            raise TypeError(f"Task keys must be strings, not {type(key).__name__}")

        def record(*args: Any, **kwargs: Any) -> None:
            self._entries.append((function, args, dict(kwargs), key))

        return record

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[AgendaEntry]:
        return iter(list(self._entries))

    def clear(self) -> None:
        self._entries.clear()

    async def scatter(
        self,
        docket: Docket,
        over: timedelta,
        start: datetime | None = None,
        jitter: timedelta | None = None,
    ) -> list[Execution]:
        """Schedule every recorded call, spread evenly from ``start`` over ``over``.

        One task lands at the middle of the window; n > 1 tasks land at
        ``start + i * over / (n - 1)``, both ends included. ``jitter`` moves each
        time by a uniform offset within +/- jitter, never before ``start``.
        Every name is resolved before anything is scheduled, so an unknown name
        raises ``KeyError`` with nothing scheduled. A failure later on leaves the
        earlier tasks scheduled. Struck tasks come back with disposition STRUCK.
        """
        if not isinstance(over, timedelta):
            raise TypeError(f"'over' must be a timedelta, not {type(over).__name__}")
        if jitter is not None and not isinstance(jitter, timedelta):
            raise TypeError(
                f"'jitter' must be a timedelta or None, not {type(jitter).__name__}"
            )
        if start is not None and (
            not isinstance(start, datetime) or start.tzinfo is None
        ):
            raise TypeError(f"'start' must be a timezone-aware datetime, not {start!r}")
        if over <= timedelta(0):
            raise ValueError("'over' parameter must be a positive duration")
        entries = list(self._entries)
        if not entries:
            return []
        start = _clock.utcnow() if start is None else start
        times = spread(len(entries), start, over, jitter)

        for function, _, _, _ in entries:  # validate every name before scheduling
            if isinstance(function, str) and function not in docket.tasks:
                raise KeyError(f"Task '{function}' is not registered")
        for function, _, _, _ in entries:
            if not isinstance(function, str) and function.__name__ not in docket.tasks:
                docket.register(function)

        executions: list[Execution] = []
        for (function, args, kwargs, key), when in zip(entries, times, strict=True):
            schedule = docket.add(
                function, when=when, key=GeneratedKey(uuid7()) if key is None else key
            )
            executions.append(await schedule(*args, **kwargs))
        return executions


def spread(
    count: int, start: datetime, over: timedelta, jitter: timedelta | None = None
) -> list[datetime]:
    """The scatter times of ``count`` tasks over ``[start, start + over]``."""
    if count == 1:
        times = [start + over / 2]
    else:
        times = [start + over * index / (count - 1) for index in range(count)]
    if not jitter:
        return times
    seconds = abs(jitter.total_seconds())
    return [
        max(start, when + timedelta(seconds=random.uniform(-seconds, seconds)))
        for when in times
    ]


__all__ = ["Agenda"]
