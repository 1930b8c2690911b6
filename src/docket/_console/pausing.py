"""Pausing and resuming a task type without discarding its work (mixed into Docket).

``pause(task)`` marks the task type paused in Redis (``P:paused``) and tells every
worker. From then on workers run none of its tasks: whatever is delivered to them is
held (its key kept in ``P:paused:<task>``, its message parked like a future task's,
its state ``scheduled``), future ones stay in the queue until due and are held then.
A task already running finishes. ``resume(task)`` releases the held work into the
future queue with its due time, so the scheduler hands it to workers at once, oldest
first; each task runs once. Producers are not affected: adds of a paused type are
accepted and wait. Unlike a strike, a pause discards nothing.

Storage is bounded by the docket itself: one hash field per paused type, and each
held task's key while it waits (a held task is as live as a scheduled one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .. import _codec
from .._broker import Broker
from .._keys import check_task_name

TaskLike = Callable[..., Any] | str


@dataclass(frozen=True)
class Pause:
    """A paused task type: since when, and how many of its tasks wait for it."""

    task: str
    since: datetime | None  # None if the mark in Redis is not a time
    waiting: int


def task_name(task: TaskLike) -> str:
    """The name of ``task`` (a function: its ``__name__``), checked."""
    name = task if isinstance(task, str) else getattr(task, "__name__", None)
    if not isinstance(name, str):
        raise TypeError(f"Expected a task function or a task name, not {task!r}")
    check_task_name(name)
    return name


class TaskPauses:
    """Pause and resume methods of a Docket (mixed into ``Docket``)."""

    @property
    def broker(self) -> Broker:
        raise NotImplementedError

    async def pause(self, task: TaskLike) -> None:
        """Stop running ``task`` (a function or a task name) without discarding
        its work: its tasks wait, queued or scheduled, until ``resume(task)``.
        Tasks already running finish. Pausing a paused task changes nothing."""
        await self.broker.pauses.pause(task_name(task), _codec.iso(_codec.now()))

    async def resume(self, task: TaskLike) -> int:
        """Run ``task`` again: its waiting work goes back to the workers, oldest
        first. Returns how many held tasks were released (0 when it was not
        paused)."""
        name = task_name(task)
        moved, done = await self.broker.pauses.resume_step(
            name, _codec.iso(_codec.now())
        )
        while not done:
            more, done = await self.broker.pauses.resume_step(name)
            moved += more
            if not more and not done:  # paused again meanwhile: its work waits
                break
        return moved

    async def paused(self) -> frozenset[str]:
        """The names of the paused task types."""
        marks = await self.broker.pauses.marks()
        return frozenset(mark.task for mark in marks if mark.paused)

    async def pauses(self) -> list[Pause]:
        """Every paused task type, by name: since when, and how many tasks wait."""
        marks = [mark for mark in await self.broker.pauses.marks() if mark.paused]
        counts = await self.broker.pauses.held_count([mark.task for mark in marks])
        return [
            Pause(mark.task, _moment(mark.at), count)
            for mark, count in zip(marks, counts, strict=True)
        ]


def _moment(text: str) -> datetime | None:
    try:
        return _codec.from_iso(text)
    except ValueError:
        return None


__all__ = ["Pause", "TaskLike", "TaskPauses", "task_name"]
