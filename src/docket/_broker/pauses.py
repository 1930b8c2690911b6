"""Pausing task types: the marks in ``P:paused``, the work held for them.

A pause is a mark (``p:<ISO time>``) in the hash ``P:paused``; workers read the
marks, hear of changes on ``P:cancel:paused``, and hold the delivered messages of a
paused type in its parked set instead of running them (``pause_park.lua``). A resume
marks the type ``r:<ISO time>`` and moves the held keys into the future queue, a
chunk per call, then deletes the mark (``resume.lua``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .._text import as_text
from . import scripts
from .queue import QueueStore
from .store import BrokerBase, Store

RESUME_CHUNK = 1000  # held keys one resume.lua call moves


@dataclass(frozen=True, slots=True)
class PauseMark:
    """One task type's mark: paused (else being resumed) since ``at`` (ISO)."""

    task: str
    paused: bool
    at: str


def _mark(task: bytes | str, value: bytes | str) -> PauseMark:
    text = as_text(value)
    return PauseMark(as_text(task), not text.startswith("r:"), text[2:])


def _marks(found: Mapping[bytes | str, bytes | str]) -> list[PauseMark]:
    return sorted(
        (_mark(task, value) for task, value in found.items()), key=lambda m: m.task
    )


class PauseStore(Store):
    """Paused task types: their marks and the work held for them."""

    def __init__(self, shared: BrokerBase, queue: QueueStore) -> None:
        super().__init__(shared)
        self.queue = queue

    async def pause(self, task: str, at: str) -> bool:
        """Mark ``task`` paused since ``at`` and tell the workers; False when it
        was paused already (its mark is kept)."""
        k = self.keys
        changed = await self.run_script(
            scripts.PAUSE, [k.paused], [task, at, k.pause_signal]
        )
        return bool(int(changed))

    async def resume_step(self, task: str, at: str = "") -> tuple[int, bool]:
        """Release up to ``RESUME_CHUNK`` keys held for ``task`` (beginning the
        resume when ``at`` is given): (keys moved, nothing left held)."""
        k = self.keys
        moved, done = await self.run_script(
            scripts.RESUME,
            [k.queue, k.paused],
            [
                k.prefix,
                task,
                RESUME_CHUNK,
                "begin" if at else "",
                at,
                k.pause_signal,
                k.wake,
            ],
        )
        return int(moved), bool(int(done))

    async def marks(self) -> list[PauseMark]:
        """Every task type's mark, paused or being resumed."""
        return _marks(await self.client.hgetall(self.keys.paused))

    async def depths_and_marks(self) -> tuple[int, int, list[PauseMark]]:
        """``depths()`` and ``pause_marks()`` in one round trip (a heartbeat's)."""
        pipe = self.backend.pipeline()
        self.queue.depth_commands(pipe)
        pipe.hgetall(self.keys.paused)
        replies = await pipe.execute()
        ready, future = self.queue.parse_depths(replies)
        return ready, future, _marks(replies[3])

    async def held_count(self, tasks: Sequence[str]) -> list[int]:
        """How many keys are held for each of ``tasks``."""
        if not tasks:
            return []
        pipe = self.backend.pipeline()
        for task in tasks:
            pipe.zcard(self.keys.paused_tasks(task))
        return [int(count) for count in await pipe.execute()]

    async def held_keys(self, task: str, start: int = 0, stop: int = -1) -> list[str]:
        """The keys held for ``task``, earliest due first (ranks ``start``..``stop``)."""
        members = await self.client.zrange(self.keys.paused_tasks(task), start, stop)
        return [as_text(member) for member in members]

    async def park(
        self, batch: Sequence[tuple[str, int, bytes, str]], now: float
    ) -> list[str]:
        """Hold delivered messages of paused types (key, generation, message id,
        task name each): per message "P" held, "C" to claim as usual (its type is
        no longer paused), "S" superseded or cancelled (acknowledged here)."""
        k = self.keys
        args: list[str | bytes] = [k.prefix, self.group, repr(now)]
        for key, generation, message_id, task in batch:
            args += (key, str(generation), message_id, task)
        codes = await self.run_script(
            scripts.PAUSE_PARK, [k.stream, k.paused, k.listening], args
        )
        return [as_text(code) for code in codes]
