"""``Priority`` and ``MaxQueued``: what a task declares about its place in line.

Both are parameter defaults the producer reads (through the attributes
``docket_priority`` and ``docket_max_queued``, see ``docket._producer.priorities``);
while the task runs, ``Priority`` gives the priority its run was added with and
``MaxQueued`` gives itself. docs/priorities-and-fairness.md.
"""

from __future__ import annotations

from typing import ClassVar

from uncalled_for import Dependency

from .._codec.message import check_priority
from ._context import current_execution


class Priority(Dependency["Priority"]):
    """The task's default priority, 1 (lowest) .. 9 (highest), 5 when it declares
    none: ``async def reindex(site: str, priority: Priority = Priority(2))``. A
    call's ``priority=`` (on ``add``, ``replace``, ``call``) overrides it. Inside
    the task the parameter is a ``Priority`` holding the run's own priority."""

    available: ClassVar[bool] = True

    def __init__(self, value: int = 5) -> None:
        self.value = check_priority(value, "Priority")

    @property
    def docket_priority(self) -> int:
        return self.value

    async def __aenter__(self) -> Priority:
        return Priority(current_execution.get().priority)

    def __int__(self) -> int:
        return self.value

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Priority):
            return self.value == other.value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Priority", self.value))

    def __repr__(self) -> str:
        return f"Priority({self.value})"


def check_max_queued(limit: object) -> int:
    """``MaxQueued``'s limit: an int of at least 1."""
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(
            f"MaxQueued needs an int of at least 1, got {type(limit).__name__} "
            f"{limit!r}"
        )
    if limit < 1:
        raise ValueError(f"MaxQueued needs a limit of at least 1, got {limit}")
    return limit


class MaxQueued(Dependency["MaxQueued"]):
    """At most ``limit`` tasks of this type may wait (queued or scheduled, not
    running) at once: ``async def export(job: str, limit: MaxQueued = MaxQueued(100))``.
    An add beyond it raises ``docket.QueueFull`` and writes nothing (``add_many``
    marks that call ``Disposition.FAILED`` with the error)."""

    available: ClassVar[bool] = True

    def __init__(self, limit: int) -> None:
        self.limit = check_max_queued(limit)

    @property
    def docket_max_queued(self) -> int:
        return self.limit

    async def __aenter__(self) -> MaxQueued:
        return self

    def __repr__(self) -> str:
        return f"MaxQueued({self.limit})"


__all__ = ["MaxQueued", "Priority"]
