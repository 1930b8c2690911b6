"""Read-only views of the work in a docket: paged views for the dashboard
(queued, running and scheduled tasks as stored, payloads still pickled; their
progress, the counts, the workers' concurrency and in-flight messages) and the
snapshot's view (``snapshot_view``: the stream, its holders, the queue). No view
reads more than a page (or a bounded chunk) of a list, however long the list is."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import ResponseError

from .._text import as_text
from . import scripts
from .lanes import (
    DEFAULT_PRIORITY,
    DISPATCHED,
    DOORBELL,
    LANE_LEVELS,
    LaneMark,
    lane_cursor,
    start_order,
)
from .snapshot_view import DocketView as DocketView
from .snapshot_view import Pending as Pending
from .snapshot_view import SnapshotStore

Fields = dict[bytes, bytes]
Member = tuple[str, float]  # a future task's key and when it is due (epoch seconds)


@dataclass(frozen=True)
class Listed:
    """One waiting or running task as stored: its message fields, where it is."""

    fields: Fields
    stream_id: str | None = None
    score: float | None = None  # when a scheduled task is due (epoch seconds)
    consumer: str | None = None  # the worker holding a running task
    idle_ms: int | None = None
    cursor: str | None = None  # a lane task's place in a due listing (due_page)

    @property
    def position(self) -> str | None:
        """Where a listing goes on after this task: its cursor, or its stream id."""
        return self.cursor or self.stream_id


@dataclass(frozen=True)
class Depths:
    queued: int
    running: int
    scheduled: int
    failed: int
    dead: int
    last_delivered: str = field(default="0-0")
    # Of the queued, those waiting on each priority lane (lanes holding none left
    # out); the rest are the stream's unread messages (priority 5).
    lanes: dict[int, int] = field(default_factory=dict[int, int])


def _get(entry: dict[Any, Any], name: str) -> Any:
    return entry[name] if name in entry else entry.get(name.encode())


def next_id(stream_id: str) -> str:
    """The smallest stream id after ``stream_id`` (an inclusive start for XRANGE)."""
    milliseconds, _, sequence = stream_id.partition("-")
    return f"{milliseconds}-{int(sequence or 0) + 1}"


def previous_id(stream_id: str) -> str:
    """The largest stream id before ``stream_id`` (an inclusive end for XRANGE)."""
    milliseconds, _, sequence = stream_id.partition("-")
    if int(sequence or 0) > 0:
        return f"{milliseconds}-{int(sequence) - 1}"
    return f"{int(milliseconds) - 1}-18446744073709551615"


class ViewStore(SnapshotStore):
    async def _group(self) -> tuple[str, int]:
        """(last delivered id, pending count) of the workers' group."""
        for attempt in (1, 2):
            try:
                groups = await self.client.xinfo_groups(self.keys.stream)
            except ResponseError as error:
                if attempt == 2 or "no such key" not in str(error).lower():
                    raise
                await self.ensure_group()
                continue
            for group in groups:
                if as_text(_get(group, "name")) == self.group:
                    last = as_text(_get(group, "last-delivered-id"))
                    return last, int(_get(group, "pending") or 0)
            if attempt == 1:
                await self.ensure_group()
        return "0-0", 0

    async def counts(self) -> Depths:
        """How many tasks are queued (the stream's unread messages and the tasks
        waiting on priority lanes), running and scheduled; the failed and dead
        counts."""
        last, pending = await self._group()
        k = self.keys
        pipe = self.backend.pipeline()
        pipe.xlen(k.stream)
        pipe.zcard(k.queue)
        pipe.xlen(k.failed)
        pipe.xlen(k.dead)
        pipe.exists(k.doorbell)  # a doorbell entry is no task (_lanes.lua)
        for level in LANE_LEVELS:
            pipe.zcard(k.lane(level))
        length, scheduled, failed, dead, bell, *laned = await pipe.execute()
        lanes = {p: int(n) for p, n in zip(LANE_LEVELS, laned, strict=True) if int(n)}
        queued = max(int(length) - pending - int(bell), 0) + sum(lanes.values())
        return Depths(
            queued, pending, int(scheduled), int(failed), int(dead), last, lanes
        )

    async def queued_page(
        self, count: int, after: str | None = None, last_delivered: str | None = None
    ) -> list[Listed]:
        """Up to ``count`` messages no worker has read yet, oldest first, after the
        stream id ``after`` (not the doorbell, nor a lane task's dispatched copy,
        which a worker already holds: _lanes.lua, dispatch.lua)."""
        if last_delivered is None:
            last_delivered, _ = await self._group()
        start = last_delivered if after is None else max_id(after, last_delivered)
        listed: list[Listed] = []
        while len(listed) < count:
            entries = await self.client.xrange(
                self.keys.stream, next_id(start), "+", count=count
            )
            for entry_id, fields in entries:
                start = as_text(entry_id)
                if fields and DOORBELL not in fields and DISPATCHED not in fields:
                    listed.append(Listed(fields, stream_id=start))
            if len(entries) < count:
                break
        return listed[:count]

    async def due_page(self, count: int, after: str | None = None) -> list[Listed]:
        """Up to ``count`` due tasks no worker has taken yet, in the order workers
        start them (``lanes.start_order``: each lane above priority 5, the
        stream's unread messages, each lane below), after ``after`` (a listed
        task's ``position``; ValueError for one that is not)."""
        order = start_order(await self.lane_levels(), after)
        listed: list[Listed] = []
        for level, mark in order:
            wanted = count - len(listed)
            if wanted <= 0:
                break
            if level == DEFAULT_PRIORITY:
                stream_id = mark if isinstance(mark, str) else None
                listed += await self.queued_page(wanted, stream_id)
            else:
                lane_mark = mark if isinstance(mark, tuple) else None
                listed += await self.lane_page(level, wanted, lane_mark)
        return listed

    async def lane_levels(self) -> set[int]:
        """The priorities whose lanes hold a task (``P:lanes``)."""
        return {int(level) for level in await self.client.smembers(self.keys.lanes)}

    async def lane_page(
        self, level: int, count: int, after: LaneMark | None = None
    ) -> list[Listed]:
        """Up to ``count`` tasks waiting on lane ``level``, longest due first,
        after the task ``after`` (its due time and key) wherever it is now."""
        lane = self.keys.lane(level)
        start = 0
        if after is not None:
            start = await self.scheduled_position(after[1], after[0], lane)
        members = await self.client.zrange(
            lane, start, start + count - 1, withscores=True
        )
        if not members:
            return []
        pipe = self.backend.pipeline()
        for key, _ in members:
            pipe.hgetall(self.keys.parked(as_text(key)))
        parked = await pipe.execute()
        return [
            Listed(fields, score=float(due), cursor=lane_cursor(level, due, key))
            for (key, due), fields in zip(
                [(as_text(k), float(d)) for k, d in members], parked, strict=True
            )
            if fields
        ]

    async def running_page(
        self, count: int, after: str | None = None, last_delivered: str | None = None
    ) -> list[Listed]:
        """Up to ``count`` messages workers hold (read, not yet settled), with
        who holds each and for how long, oldest first."""
        if last_delivered is None:
            last_delivered, _ = await self._group()
        if last_delivered == "0-0":
            return []
        start = "-" if after is None else next_id(after)
        entries = await self.client.xrange(
            self.keys.stream, start, last_delivered, count=count
        )
        entries = [(as_text(i), fields) for i, fields in entries if fields]
        if not entries:
            return []
        pending = await self.client.xpending_range(
            self.keys.stream, self.group, entries[0][0], entries[-1][0], len(entries)
        )
        holders = {
            as_text(_get(p, "message_id")): (
                as_text(_get(p, "consumer")),
                int(_get(p, "time_since_delivered")),
            )
            for p in pending
        }
        listed: list[Listed] = []
        for entry_id, fields in entries:
            consumer, idle = holders.get(entry_id, (None, None))
            listed.append(Listed(fields, entry_id, consumer=consumer, idle_ms=idle))
        return listed

    async def scheduled_page(self, offset: int, count: int) -> list[Listed]:
        """Up to ``count`` future tasks from position ``offset``, soonest first."""
        return await self.parked_tasks(await self.scheduled_members(offset, count))

    async def scheduled_members(self, offset: int, count: int) -> list[Member]:
        """(key, due time) of up to ``count`` future tasks from position
        ``offset``, soonest first: no payload is read."""
        members = await self.client.zrange(
            self.keys.queue, offset, offset + count - 1, withscores=True
        )
        return [(as_text(member), float(score)) for member, score in members]

    async def waiting_members(self, count: int) -> list[Member]:
        """(key, due time) of up to ``count`` tasks waiting for their parents
        (``after=``), soonest due first: no payload is read."""
        members = await self.client.zrange(
            self.keys.waiting, 0, count - 1, withscores=True
        )
        return [(as_text(member), float(score)) for member, score in members]

    async def scheduled_position(
        self, key: str, due: float, zset: str | None = None
    ) -> int:
        """Where the future tasks after ``key`` (due at ``due``) start now, in
        the queue's order (due time, then key): whether or not ``key`` is still
        there, paging on from it never repeats or skips a task. ``zset``: another
        sorted set of keys by due time (a priority lane) instead of the queue."""
        queue = zset or self.keys.queue
        earlier = math.nextafter(due, -math.inf)  # every engine takes a float
        position = int(await self.client.zcount(queue, "-inf", earlier))
        mark = key.encode()
        while True:  # the tasks due at that very moment: those up to the key
            tied = await self.client.zrange(
                queue, position, position + 199, withscores=True
            )
            for member, score in tied:
                name = member if isinstance(member, bytes) else str(member).encode()
                if float(score) != due or name > mark:
                    return position
                position += 1
            if len(tied) < 200:
                return position

    async def scheduled_search(
        self, offset: int, count: int, needle: str, wanted: int
    ) -> tuple[int, list[Member]]:
        """Future tasks from position ``offset`` whose key contains ``needle``
        or whose task name is ``needle``, examining at most ``count`` and
        stopping at the ``wanted``-th hit: (how many were examined, the hits).
        One script call; no payload is read."""
        examined, flat = await self.run_script(
            scripts.SCHEDULED_SEARCH,
            [self.keys.queue],
            [self.keys.prefix, offset, count, needle, wanted],
        )
        hits = [(as_text(flat[i]), float(flat[i + 1])) for i in range(0, len(flat), 2)]
        return int(examined), hits

    async def parked_tasks(self, members: Sequence[Member]) -> list[Listed]:
        """The stored messages of these future tasks (those still there)."""
        if not members:
            return []
        pipe = self.backend.pipeline()
        for key, _ in members:
            pipe.hgetall(self.keys.parked(key))
        parked = await pipe.execute()
        return [
            Listed(fields, score=score)
            for (_, score), fields in zip(members, parked, strict=True)
            if fields
        ]

    async def progress_of(self, keys: Sequence[str]) -> list[Fields]:
        """The progress hash of each key ({} where there is none), one round trip."""
        if not keys:
            return []
        pipe = self.backend.pipeline()
        for key in keys:
            pipe.hgetall(self.keys.progress(key))
        return list(await pipe.execute())

    async def started_of(self, keys: Sequence[str]) -> list[str | None]:
        """When each key's current attempt started (its run record's ISO
        ``started_at``; None where there is none), one round trip."""
        if not keys:
            return []
        pipe = self.backend.pipeline()
        for key in keys:
            pipe.hget(self.keys.runs(key), "started_at")
        return [None if v is None else as_text(v) for v in await pipe.execute()]

    async def waiting_message(self, key: str) -> Fields | None:
        """The message of ``key`` while it is queued or scheduled, else None: its
        stream entry, or its parked copy ``P:K`` (a future task, and a due one
        waiting on its priority lane or in its FairShare value's backlog)."""
        record = await self.client.hgetall(self.keys.runs(key))
        state, stream_id = record.get(b"state"), record.get(b"stream_id")
        if state not in (b"scheduled", b"queued"):
            return None
        if state == b"queued" and stream_id:
            entry_id = as_text(stream_id)
            entries = await self.client.xrange(
                self.keys.stream, entry_id, entry_id, count=1
            )
            if entries and entries[0][1]:
                return entries[0][1]
        fields = await self.client.hgetall(self.keys.parked(key))
        return fields or None

    async def worker_details(self) -> tuple[dict[str, int], dict[str, int]]:
        """(worker -> concurrency from heartbeats, worker -> messages it holds)."""
        concurrency = await self.client.hgetall(self.keys.worker_capacity)
        capacity = {as_text(k): int(v) for k, v in concurrency.items()}
        try:
            summary = await self.client.xpending(self.keys.stream, self.group)
        except ResponseError as error:
            if "NOGROUP" not in str(error) and "no such key" not in str(error):
                raise
            return capacity, {}
        held: dict[str, int] = {}
        for consumer in _get(summary, "consumers") or []:
            if isinstance(consumer, dict):
                held[as_text(_get(consumer, "name"))] = int(_get(consumer, "pending"))
            else:
                held[as_text(consumer[0])] = int(consumer[1])
        return capacity, held


def _parts(stream_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = stream_id.partition("-")
    return int(milliseconds), int(sequence or 0)


def max_id(a: str, b: str) -> str:
    return a if _parts(a) >= _parts(b) else b
