"""``broker.fair``: the backlogs of FairShare tasks and their weights.

A due task whose parameter is annotated ``FairShare()`` waits in the backlog of its
parameter's value (its message parked, like a future task's) until a fair release
moves it into the stream; ``lua/_fair.lua`` holds the keys and the release (start-time
fair queueing over the values, weighted). schedule.lua, stream_due.lua and claim.lua
release as they go; workers that serve a FairShare task also call ``release`` now and
then (``_worker/fairness.py``): the one release that dead-letters a broken task at
the head of a backlog (the others stop before it). Weights live in one hash, read by
every release, so a change holds from the next release on, on every worker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .. import _clock, _codec
from .._keys import fair_field
from .._text import as_text
from . import scripts
from .store import Store

MOST_VALUES_SHOWN = 100  # values per task a depth listing shows
MOST_VALUES_READ = 1000  # values per task a depth listing counts


BAD_PARKED = "bad-parked-task"  # its parked message is missing or not a hash
BAD_RECORD = "bad-run-record"  # its run record is not a hash


@dataclass(frozen=True, slots=True)
class FairRelease:
    """What one release did: how many tasks it released, and how many broken ones
    it dead-lettered, by reason."""

    released: int
    dead_lettered: dict[str, int] = field(default_factory=dict[str, int])


@dataclass(frozen=True, slots=True)
class FairDepth:
    """One value's backlog: how many of its tasks wait, and its weight."""

    value: str
    queued: int
    weight: float


def check_weight(weight: object) -> float:
    """A weight is a positive, finite number (int or float; not a bool)."""
    if isinstance(weight, bool) or not isinstance(weight, (int, float)):
        raise TypeError(f"A fair-share weight must be a number, not {weight!r}")
    value = float(weight)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(
            f"A fair-share weight must be a positive number, not {weight!r}"
        )
    return value


class FairStore(Store):
    """FairShare backlogs: releasing them, their depths, the weights."""

    async def release(
        self,
        tasks: list[str],
        window: int | None = None,
        worker: str = "",
        ttl_seconds: int = 0,
        horizon: float = 10.0,
        now: float | None = None,
    ) -> FairRelease:
        """Release what the windows of ``tasks`` allow. ``window``, when given, is
        how many released tasks ``worker`` wants waiting unclaimed: it counts,
        added to the other workers', until ``horizon`` seconds pass (by ``now``,
        epoch seconds, default this process's clock) without ``worker`` telling
        it again. A broken task at
        the head of a backlog (its parked message missing or not a hash, or its run
        record not a hash) goes to the dead letters, by ``worker``, its record
        failed (kept ``ttl_seconds``, deleted when 0), and the release goes on."""
        if not tasks:
            return FairRelease(0)
        k = self.keys
        released, bad_parked, bad_record = await self.run_script(
            scripts.FAIR_RELEASE,
            [k.stream, k.dead, k.listening],
            [
                k.prefix,
                "" if window is None else str(window),
                worker,
                _codec.iso(_codec.now()),
                ttl_seconds,
                self.shared.dead_limit,
                self.shared.retention_ttl,
                repr(_clock.time() if now is None else now),
                repr(horizon),
                *tasks,
            ],
        )
        dead = {BAD_PARKED: int(bad_parked), BAD_RECORD: int(bad_record)}
        return FairRelease(int(released), {r: n for r, n in dead.items() if n})

    async def set_weight(self, task: str, value: str, weight: float) -> None:
        await self.client.hset(
            self.keys.fair_weights, mapping={fair_field(task, value): repr(weight)}
        )

    async def clear_weight(self, task: str, value: str) -> bool:
        return bool(
            await self.client.hdel(self.keys.fair_weights, fair_field(task, value))
        )

    async def weight(self, task: str, value: str) -> float | None:
        raw = await self.client.hget(self.keys.fair_weights, fair_field(task, value))
        return None if raw is None else _number(raw)

    async def weights(self) -> dict[tuple[str, str], float]:
        """Every weight set: (task, value) -> weight."""
        found = await self.client.hgetall(self.keys.fair_weights)
        out: dict[tuple[str, str], float] = {}
        for name, raw in found.items():
            parsed = _split(as_text(name))
            if parsed is not None:
                out[parsed] = _number(raw)
        return out

    async def tasks(self) -> list[str]:
        """The FairShare tasks that have a backlog now."""
        found = await self.client.zrange(self.keys.fair_tasks, 0, -1)
        return sorted(as_text(t) for t in found)

    async def depths(self, task: str) -> list[FairDepth]:
        """The values of ``task`` with a backlog (deepest first, at most
        ``MOST_VALUES_SHOWN``), each with its weight (1 unless set)."""
        k = self.keys
        values = [
            as_text(v)
            for v in await self.client.zrange(
                k.fair("active", task), 0, MOST_VALUES_READ - 1
            )
        ]
        if not values:
            return []
        pipe = self.backend.pipeline()
        for value in values:
            pipe.zcard(k.fair("q", task, value))
        for value in values:
            pipe.hget(k.fair_weights, fair_field(task, value))
        replies = await pipe.execute()
        counts, weights = replies[: len(values)], replies[len(values) :]
        found = [
            FairDepth(value, int(count), 1.0 if raw is None else _number(raw))
            for value, count, raw in zip(values, counts, weights, strict=True)
            if int(count) > 0
        ]
        found.sort(key=lambda d: (-d.queued, d.value))
        return found[:MOST_VALUES_SHOWN]


def _number(raw: bytes | str) -> float:
    """A stored weight as releases use it: 1 unless a positive, finite number
    (``fair_weight`` in lua/_fair.lua reads it the same way)."""
    try:
        return check_weight(float(as_text(raw)))
    except ValueError:
        return 1.0


def _split(field: str) -> tuple[str, str] | None:
    """(task, value) of a weights field ``<len>:<task>:<value>``."""
    size, _, rest = field.partition(":")
    try:
        length = int(size)
    except ValueError:
        return None
    raw = rest.encode()
    task, value = raw[:length], raw[length + 1 :]
    try:
        return task.decode(), value.decode()
    except UnicodeDecodeError:
        return None
