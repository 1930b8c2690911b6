"""Read-only views of a docket for snapshots: the stream, its holders, the queue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError

from .._defaults import SNAPSHOT_CAP
from .base import BrokerBase


@dataclass(frozen=True)
class Pending:
    """Who holds a delivered stream message, and for how long (milliseconds)."""

    consumer: str
    idle_ms: int


@dataclass(frozen=True)
class DocketView:
    """What a snapshot shows, read in one round trip (two, for parked tasks)."""

    stream_length: int
    queue_length: int
    stream: list[tuple[bytes, dict[bytes, bytes]]]
    pending: dict[bytes, Pending]
    parked: list[dict[bytes, bytes]]


def _field(entry: dict[Any, Any], name: str) -> Any:
    """A field of an XPENDING entry (redis-py uses str keys, the memory engine bytes)."""
    return entry[name] if name in entry else entry[name.encode()]


class InspectionOps(BrokerBase):
    async def _read_view(self) -> list[Any]:
        k = self.keys
        pipe = self.backend.pipeline()
        pipe.xlen(k.stream)
        pipe.zcard(k.queue)
        pipe.xpending_range(k.stream, self.group, "-", "+", SNAPSHOT_CAP)
        pipe.xrange(k.stream, "-", "+", count=SNAPSHOT_CAP)
        pipe.zrange(k.queue, 0, -1)
        pipe.hgetall(k.paused)
        return await pipe.execute()

    async def view(self) -> DocketView:
        """The first ``SNAPSHOT_CAP`` stream entries with their holders, and every
        parked future task, those held for paused task types included (creating
        the consumer group if it is missing)."""
        try:
            length, queued, pending, entries, members, paused = await self._read_view()
        except ResponseError as error:
            if "NOGROUP" not in str(error):
                raise
            await self.ensure_group()
            length, queued, pending, entries, members, paused = await self._read_view()
        if paused:
            pipe = self.backend.pipeline()
            for task in paused:
                pipe.zrange(self.keys.paused_tasks(task.decode()), 0, -1)
            for held in await pipe.execute():
                members = [*members, *held]
                queued += len(held)
        holders = {
            _field(p, "message_id"): Pending(
                _field(p, "consumer").decode(), int(_field(p, "time_since_delivered"))
            )
            for p in pending
        }
        parked: list[dict[bytes, bytes]] = []
        if members:
            pipe = self.backend.pipeline()
            for member in members:
                pipe.hgetall(self.keys.parked(member.decode()))
            parked = [fields for fields in await pipe.execute() if fields]
        return DocketView(int(length), int(queued), list(entries), holders, parked)
