"""The snapshot's view of a docket (``broker.views.snapshot()``): the first
``SNAPSHOT_CAP`` stream entries with their holders, every future task, the tasks
held for paused task types, the first due tasks on the priority lanes and the
first tasks waiting for their parents or a signal, read in two round trips."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import ResponseError

from .._defaults import SNAPSHOT_CAP
from .lanes import DEFAULT_PRIORITY, by_priority, message_priority
from .mailbox import Received, decode_waits
from .store import Store


class SnapshotStore(Store):
    async def _read_view(self) -> list[Any]:
        k = self.keys
        pipe = self.backend.pipeline()
        pipe.xlen(k.stream)
        pipe.zcard(k.queue)
        pipe.xpending_range(k.stream, self.group, "-", "+", SNAPSHOT_CAP)
        pipe.xrange(k.stream, "-", "+", count=SNAPSHOT_CAP)
        pipe.zrange(k.queue, 0, -1)
        pipe.hgetall(k.paused)
        pipe.zrange(k.waiting, 0, SNAPSHOT_CAP - 1)
        pipe.zcard(k.waiting)
        pipe.smembers(k.lanes)
        return await pipe.execute()

    async def snapshot(self) -> DocketView:
        """The first ``SNAPSHOT_CAP`` stream entries with their holders, every
        parked future task, those held for paused task types included, and the
        first ``SNAPSHOT_CAP`` due tasks on the priority lanes, highest first
        (creating the consumer group if it is missing)."""
        try:
            read = await self._read_view()
        except ResponseError as error:
            if "NOGROUP" not in str(error):
                raise
            await self.ensure_group()
            read = await self._read_view()
        length, queued, pending, entries, members, paused, waiting, waits, lanes = read
        lane_depths: dict[int, int] = {}
        bells = sum(1 for _, fields in entries if b"doorbell" in (fields or {}))
        if bells:  # doorbell entries (_lanes.lua) are no tasks
            entries = [e for e in entries if b"doorbell" not in (e[1] or {})]
            length = int(length) - bells
        levels = sorted((int(lane) for lane in lanes), reverse=True)
        laned: list[bytes] = []  # lane tasks, highest priority first, at most a cap
        if paused or levels:  # the work held for paused types, the lane tasks
            pipe = self.backend.pipeline()
            for task in paused:
                pipe.zrange(self.keys.paused_tasks(task.decode()), 0, -1)
            for level in levels:
                pipe.zrange(self.keys.lane(level), 0, SNAPSHOT_CAP - 1)
                pipe.zcard(self.keys.lane(level))
            held_lists = await pipe.execute()
            for held in held_lists[: len(paused)]:
                members = [*members, *held]
                queued += len(held)
            lane_reads = held_lists[len(paused) :]
            for n, level in enumerate(levels):
                laned += lane_reads[2 * n][: SNAPSHOT_CAP - len(laned)]
                if lane_reads[2 * n + 1]:
                    lane_depths[level] = int(lane_reads[2 * n + 1])
                queued += int(lane_reads[2 * n + 1])
        holders = {
            _field(p, "message_id"): Pending(
                _field(p, "consumer").decode(), int(_field(p, "time_since_delivered"))
            )
            for p in pending
        }
        parked: list[dict[bytes, bytes]] = []
        gated: list[dict[bytes, bytes]] = []
        on_lanes: list[dict[bytes, bytes]] = []
        signals: list[tuple[str, Received]] = []
        if members or laned or waiting:
            pipe = self.backend.pipeline()
            for member in [*members, *laned, *waiting]:
                pipe.hgetall(self.keys.parked(member.decode()))
            for member in waiting:  # what each waits for (signals: the gate)
                pipe.hgetall(self.keys.gate(member.decode()))
            found = await pipe.execute()
            parked = [fields for fields in found[: len(members)] if fields]
            found = found[len(members) :]
            on_lanes = [fields for fields in found[: len(laned)] if fields]
            found = found[len(laned) :]
            gated = [f for f in found[: len(waiting)] if f]
            gates = found[len(waiting) :]
            for member, gate in zip(waiting, gates, strict=True):
                for wait in decode_waits(gate).values():
                    if wait.waiting:
                        signals.append((member.decode(), wait))
        return DocketView(
            int(length),
            int(queued),
            list(entries),
            holders,
            parked,
            int(waits),
            gated,
            signals,
            lane_depths,
            on_lanes,
        )


@dataclass(frozen=True)
class Pending:
    """Who holds a delivered stream message, and for how long (milliseconds)."""

    consumer: str
    idle_ms: int


@dataclass(frozen=True)
class DocketView:
    """What a snapshot shows, read in one round trip (two, for parked tasks):
    ``parked`` holds the future tasks (and those held for paused task types),
    ``on_lanes`` the due tasks waiting on priority lanes."""

    stream_length: int
    queue_length: int
    stream: list[tuple[bytes, dict[bytes, bytes]]]
    pending: dict[bytes, Pending]
    parked: list[dict[bytes, bytes]]
    # Tasks waiting for their parents (after=): how many, and the first ones.
    waiting_length: int = 0
    waiting: list[dict[bytes, bytes]] = field(default_factory=list[dict[bytes, bytes]])
    # Of those, the ones waiting for a signal: (task key, the wait), by key.
    signals: list[tuple[str, Received]] = field(
        default_factory=list[tuple[str, Received]]
    )
    # Due tasks waiting on each priority lane (priorities other than 5).
    lanes: dict[int, int] = field(default_factory=dict[int, int])
    # The first of them (at most SNAPSHOT_CAP), highest priority first, then the
    # longest due: each lane's place in the order workers start them.
    on_lanes: list[dict[bytes, bytes]] = field(default_factory=list[dict[bytes, bytes]])

    def by_priority(self) -> dict[int, int]:
        """Due tasks waiting to start, per priority (highest first): the stream's
        not yet delivered (priority 5) and each lane's; {} unless more than one
        priority is present, so a plain docket shows nothing new."""
        return by_priority(self.lanes, self.stream_length - len(self.pending))

    def due_in_start_order(self) -> list[dict[bytes, bytes]]:
        """The due tasks no worker holds, in the order workers start them: lane
        tasks above priority 5, the stream's unread messages, lane tasks below."""
        unread = [f for i, f in self.stream if i not in self.pending]
        high = [f for f in self.on_lanes if message_priority(f) > DEFAULT_PRIORITY]
        low = [f for f in self.on_lanes if message_priority(f) < DEFAULT_PRIORITY]
        return [*high, *unread, *low]


def _field(entry: dict[Any, Any], name: str) -> Any:
    """A field of an XPENDING entry (redis-py uses str keys, the memory engine bytes)."""
    return entry[name] if name in entry else entry[name.encode()]
