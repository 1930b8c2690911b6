"""Admission controls: ``ConcurrencyLimit``, ``Debounce``, ``Cooldown``, ``RateLimit``.

This release only declares them (constructors, stored attributes, validation,
``single`` and ``Annotated`` binding; spec 5.14 to 5.17). They carry
``available = False``: ``Docket.register`` refuses tasks that use them, and
entering one raises ``NotImplementedError``.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any, ClassVar, NoReturn, overload

from typing_extensions import Self
from uncalled_for import Dependency


class _AdmissionControl(Dependency[None]):
    """Shared plumbing: ``Annotated`` binding and the "not available" entry."""

    available: ClassVar[bool] = False

    argument_name: str | None
    argument_value: Any
    scope: str | None

    def bind_to_parameter(self, name: str, value: Any) -> Self:
        bound = copy.copy(self)
        bound.argument_name = name
        bound.argument_value = value
        return bound

    async def __aenter__(self) -> NoReturn:
        raise NotImplementedError(
            f"{type(self).__name__} is not available in this release of docket"
        )


def _positive(name: str, value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError(f"{name} must be a positive duration")
    return value


class ConcurrencyLimit(_AdmissionControl):
    """Limit how many executions run at once, per task or per argument value.

    Forms: ``ConcurrencyLimit(max_concurrent, /, *, scope=None)`` as ``Annotated``
    metadata; ``ConcurrencyLimit(argument_name, max_concurrent=1, scope=None)`` as
    a default grouping by that argument; ``ConcurrencyLimit(*, max_concurrent=1,
    scope=None)`` for a per-task limit. An int first argument is ``max_concurrent``.
    """

    single: bool = True

    max_concurrent: int

    @overload
    def __init__(self, max_concurrent: int, /, *, scope: str | None = None) -> None: ...
    @overload
    def __init__(
        self,
        argument_name: str,
        max_concurrent: int = 1,
        scope: str | None = None,
    ) -> None: ...
    @overload
    def __init__(
        self, *, max_concurrent: int = 1, scope: str | None = None
    ) -> None: ...
    def __init__(
        self,
        argument_name: str | int | None = None,
        max_concurrent: int = 1,
        scope: str | None = None,
    ) -> None:
        if isinstance(argument_name, int) and not isinstance(argument_name, bool):
            max_concurrent = argument_name
            argument_name = None
        if argument_name is not None and not isinstance(argument_name, str):
            raise TypeError("argument_name must be a str or None")
        if isinstance(max_concurrent, bool) or not isinstance(max_concurrent, int):
            raise TypeError("max_concurrent must be an int")
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.argument_name = argument_name
        self.argument_value = None
        self.max_concurrent = max_concurrent
        self.scope = scope

    def __repr__(self) -> str:
        return (
            f"ConcurrencyLimit(argument_name={self.argument_name!r}, "
            f"max_concurrent={self.max_concurrent!r}, scope={self.scope!r})"
        )


class Debounce(_AdmissionControl):
    """Trailing-edge control: after a burst settles for ``settle``, run once."""

    single: bool = True

    settle: timedelta

    def __init__(self, settle: timedelta, *, scope: str | None = None) -> None:
        self.settle = _positive("settle", settle)
        self.scope = scope
        self.argument_name = None
        self.argument_value = None

    def __repr__(self) -> str:
        return f"Debounce({self.settle!r}, scope={self.scope!r})"


class Cooldown(_AdmissionControl):
    """Leading-edge control: run the first execution, drop the rest within ``window``."""

    window: timedelta

    def __init__(self, window: timedelta, *, scope: str | None = None) -> None:
        self.window = _positive("window", window)
        self.scope = scope
        self.argument_name = None
        self.argument_value = None

    def __repr__(self) -> str:
        return f"Cooldown({self.window!r}, scope={self.scope!r})"


class RateLimit(_AdmissionControl):
    """Sliding-window limit: at most ``limit`` starts ``per`` window.

    Blocked executions are rescheduled for when a slot opens, or dropped when
    ``drop`` is true.
    """

    limit: int
    per: timedelta
    drop: bool

    def __init__(
        self,
        limit: int,
        *,
        per: timedelta,
        drop: bool = False,
        scope: str | None = None,
    ) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise TypeError("limit must be an int")
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.per = _positive("per", per)
        self.drop = drop
        self.scope = scope
        self.argument_name = None
        self.argument_value = None

    def __repr__(self) -> str:
        return (
            f"RateLimit({self.limit!r}, per={self.per!r}, drop={self.drop!r}, "
            f"scope={self.scope!r})"
        )
