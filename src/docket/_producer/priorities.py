"""The defaults a task declares as parameters, ``Priority(n)`` and
``MaxQueued(n)``, as the producer reads them (a call's ``priority=`` is checked
by ``_codec.message.check_priority`` before anything is written).

The two dependency classes live with the other dependencies (above this layer);
the producer recognises their defaults by the attribute each carries
(``docket_priority``, ``docket_max_queued``), read once per task function.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .._codec.message import DEFAULT_PRIORITY as DEFAULT

_defaults: dict[Any, tuple[int, int | None]] = {}


def task_defaults(function: Callable[..., Any]) -> tuple[int, int | None]:
    """(priority, MaxQueued limit or None) that ``function`` declares through its
    parameters' defaults (``priority: Priority = Priority(2)``); (5, None) when it
    declares neither."""
    try:
        return _defaults[function]
    except (KeyError, TypeError):
        pass
    priority, limit = DEFAULT, None
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        parameters = ()
    for parameter in parameters:
        default = parameter.default
        level = getattr(default, "docket_priority", None)
        if isinstance(level, int):
            priority = level
        most = getattr(default, "docket_max_queued", None)
        if isinstance(most, int):
            limit = most
    try:
        _defaults[function] = (priority, limit)
    except TypeError:  # unhashable: read again next time
        pass
    return priority, limit


def effective_priority(function: Callable[..., Any], priority: int | None) -> int:
    """The priority of one add: ``priority`` when given, else the task's default."""
    return task_defaults(function)[0] if priority is None else priority


__all__ = ["effective_priority", "task_defaults"]
