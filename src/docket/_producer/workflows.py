"""Workflows on the producer side: what ``after=`` accepts, groups and chains.

A task added with ``after=`` waits (``ExecutionState.WAITING``) until every parent's
run has ended; the counting happens in Redis, in the same script that ends a
parent's run (``_broker/lua/_gates.lua``). Here we only turn what a caller passes
(keys, Executions, Groups, iterables of them) into parent keys, and offer the two
shapes built on it: ``Docket.group`` (fan-out, then fan-in on the whole group) and
``Docket.chain`` (each call after the one before)."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, TypeAlias

from .._handles import TaskCall
from .._keys import check_task_key
from .._states import Disposition
from ..execution import Execution


class GroupDocket(Protocol):
    """The docket as a group sees it."""

    def add(
        self,
        function: Callable[..., Any] | str,
        when: datetime | None = None,
        key: str | None = None,
        *,
        after: Any = None,
        on_parent_failure: str = "cancel",
    ) -> Callable[..., Awaitable[Execution]]: ...

    async def add_many(
        self, calls: Iterable[TaskCall], *, chunk_size: int | None = 1000
    ) -> list[Execution]: ...


class Group:
    """Tasks added together, waited for as one (``docket.group(name)``).

    Members are added with ``g.add(...)`` (or ``g.add_many``) until the ``async
    with`` block exits; ``after=g`` then waits for every member. A group is known to
    this process only: it is the list of its members' keys, so each member costs
    nothing more than its own add, and a follower's gate names every member."""

    def __init__(self, docket: GroupDocket, name: str) -> None:
        if not isinstance(name, str) or not name:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ValueError(f"a group needs a name, got {name!r}")
        self.name = name
        self._docket = docket
        self._members: list[Execution] = []
        self._open = False
        self._closed = False

    def __repr__(self) -> str:
        return f"<Group {self.name!r} ({len(self._members)} members)>"

    async def __aenter__(self) -> Group:
        if self._open or self._closed:
            raise RuntimeError(f"group {self.name!r} was already opened")
        self._open = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._open = False
        self._closed = True

    @property
    def members(self) -> list[Execution]:
        """The members added so far (in order)."""
        return list(self._members)

    @property
    def keys(self) -> tuple[str, ...]:
        """The member keys a follower waits for (only once the block has exited)."""
        if not self._closed:
            raise RuntimeError(
                f"group {self.name!r} is still open: add its followers after the "
                "'async with' block ends"
            )
        return tuple(
            e.key for e in self._members if e.disposition is not Disposition.STRUCK
        )

    def _check_open(self) -> None:
        if not self._open:
            raise RuntimeError(
                f"group {self.name!r} is not open: add members inside its "
                "'async with' block"
            )

    def add(
        self,
        function: Callable[..., Any] | str,
        when: datetime | None = None,
        key: str | None = None,
        *,
        after: Any = None,
        on_parent_failure: str = "cancel",
    ) -> Callable[..., Awaitable[Execution]]:
        """Like ``Docket.add``; the execution becomes a member of this group."""
        self._check_open()
        schedule = self._docket.add(
            function, when, key, after=after, on_parent_failure=on_parent_failure
        )

        async def member(*args: Any, **kwargs: Any) -> Execution:
            execution = await schedule(*args, **kwargs)
            if execution.disposition is not Disposition.FAILED:
                self._members.append(execution)
            return execution

        return member

    async def add_many(
        self, calls: Iterable[TaskCall], *, chunk_size: int | None = 1000
    ) -> list[Execution]:
        """Like ``Docket.add_many``; every execution placed becomes a member."""
        self._check_open()
        executions = await self._docket.add_many(calls, chunk_size=chunk_size)
        self._members += [
            e for e in executions if e.disposition is not Disposition.FAILED
        ]
        return executions


# What ``after=`` accepts.
After: TypeAlias = str | Execution | Group | Iterable[str | Execution | Group] | None


def parent_keys(after: Any) -> tuple[str, ...]:
    """The parent keys ``after=`` names: a key, an Execution, a Group, or an
    iterable of them (duplicates dropped, order kept). TypeError for anything else;
    a Group still open is a RuntimeError."""
    if after is None:
        return ()
    found: list[str] = []
    _collect(after, found)
    for key in found:
        check_task_key(key)
    return tuple(dict.fromkeys(found))


def _collect(item: Any, found: list[str]) -> None:
    if isinstance(item, str):
        found.append(item)
    elif isinstance(item, Execution):
        found.append(item.key)
    elif isinstance(item, Group):
        found.extend(item.keys)
    elif isinstance(item, Iterable) and not isinstance(item, (bytes, bytearray)):
        for each in item:  # pyright: ignore[reportUnknownVariableType]
            if not isinstance(each, (str, Execution, Group)):
                raise TypeError(
                    "after= takes task keys, Executions or Groups, or an iterable "
                    f"of them; got {each!r} in an iterable"
                )
            _collect(each, found)
    else:
        raise TypeError(
            "after= takes a task key, an Execution or a Group, or an iterable of "
            f"them; got {item!r}"
        )


class ChainDocket(Protocol):
    async def add_many(
        self, calls: Iterable[TaskCall], *, chunk_size: int | None = 1000
    ) -> list[Execution]: ...


class Workflows:
    """``group`` and ``chain``, mixed into the Docket."""

    def group(self: GroupDocket, name: str) -> Group:
        """A group of tasks to wait for as one: ``async with docket.group(name) as
        g: await g.add(fn)(...)``, then ``docket.add(..., after=g)``."""
        return Group(self, name)

    async def chain(self: ChainDocket, *calls: TaskCall) -> list[Execution]:
        """Add ``calls`` (from ``docket.call``) so each runs after the one before,
        in one round trip; returns their executions in order. With the default
        ``on_parent_failure="cancel"`` a failed step cancels the rest."""
        linked: list[TaskCall] = []
        for call in calls:
            if not isinstance(call, TaskCall):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise TypeError(f"chain() takes docket.call(...) calls, got {call!r}")
            if linked:
                previous = linked[-1].key
                after = tuple(dict.fromkeys((*call.after, previous)))
                call = dataclasses.replace(call, after=after)
            linked.append(call)
        return await self.add_many(linked, chunk_size=None)


__all__ = ["After", "Group", "Workflows", "parent_keys"]
