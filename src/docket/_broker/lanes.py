"""``broker.lanes``: the priority lanes (``lua/_lanes.lua``, ``lua/dispatch.lua``).

A due task of priority 5 (the default) goes to the stream as it always has. A due
task of another priority waits on its lane ``P:lane:<p>`` (a sorted set of keys by
due time, the message parked at ``P:K``) until a worker dispatches it: the dispatch
script moves the best of them into the stream, each delivered at once to the worker
that asked (so it needs no read behind older messages). A worker only dispatches
while some lane holds a task (``P:lanes``), which it learns from the doorbell entry
and the ``lanes`` wake-up that the first lane task sends, and from each dispatch's
reply (how many tasks still wait on lanes).

``lane_place`` in ``_lanes.lua`` is the one way for a script to put a due message
where its priority says (the stream for 5, else its lane); every script that makes
a task due (schedule, stream_due, a workflow's release) calls it or does the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._codec.message import DEFAULT_PRIORITY, HIGHEST_PRIORITY, LOWEST_PRIORITY
from . import scripts
from .pipelining import script_command
from .store import Store
from .types import Delivery

PRIORITIES = range(LOWEST_PRIORITY, HIGHEST_PRIORITY + 1)
# The field of a dispatched copy of a message (a new-message read leaves it alone:
# it already has its worker) and of the doorbell entry.
DISPATCHED = b"dispatched"
DOORBELL = b"doorbell"


@dataclass(frozen=True, slots=True)
class DispatchCall:
    """The keys and arguments of one ``dispatch.lua`` call, so that it can ride
    along with other commands in one round trip (``RunStore.turn``)."""

    keys: list[str]
    args: list[Any]

    def command(self) -> tuple[Any, ...]:
        return script_command(scripts.DISPATCH, self.keys, self.args)


def dispatched(reply: Any) -> tuple[list[Delivery], int]:
    """A dispatch reply: the deliveries, and how many tasks still wait on lanes
    (-1: the stream has no consumer group yet, and nothing was moved)."""
    entries, left = reply
    deliveries: list[Delivery] = []
    for message_id, flat in entries:
        fields = dict(zip(flat[::2], flat[1::2], strict=True))
        deliveries.append(Delivery(message_id, fields, False))
    return deliveries, int(left)


class LaneStore(Store):
    def dispatch_call(
        self, consumer: str, count: int, aging: float, head: float | None
    ) -> DispatchCall:
        """The dispatch of up to ``count`` lane tasks that rank before the
        stream's oldest waiting task (``head``, its due time; None when the
        stream has none waiting) to ``consumer``."""
        k = self.keys
        args: list[Any] = [
            k.prefix,
            self.group,
            consumer,
            count,
            repr(aging),
            "" if head is None else repr(head),
        ]
        return DispatchCall([k.stream, k.lanes], args)

    async def dispatch(
        self, consumer: str, count: int, aging: float, head: float | None
    ) -> tuple[list[Delivery], int]:
        """Up to ``count`` lane tasks that rank before the stream's oldest waiting
        task (``head``, its due time; None when the stream has none waiting),
        delivered to ``consumer``; and how many tasks still wait on lanes."""
        call = self.dispatch_call(consumer, count, aging, head)
        reply = dispatched(
            await self.run_script(scripts.DISPATCH, call.keys, call.args)
        )
        if reply[1] < 0:  # no consumer group yet: nothing was moved
            await self.ensure_group()
            raw = await self.run_script(scripts.DISPATCH, call.keys, call.args)
            reply = dispatched(raw)
        return reply

    async def depths(self) -> dict[int, int]:
        """How many due tasks wait on each lane (lanes holding none left out)."""
        pipe = self.backend.pipeline()
        for priority in PRIORITIES:
            if priority != DEFAULT_PRIORITY:
                pipe.zcard(self.keys.lane(priority))
        counts = await pipe.execute()
        levels = [p for p in PRIORITIES if p != DEFAULT_PRIORITY]
        return {p: int(n) for p, n in zip(levels, counts, strict=True) if int(n)}


def by_priority(lanes: Mapping[int, int], stream: int) -> dict[int, int]:
    """Due tasks waiting per priority, highest first: each lane's depth and the
    stream's messages not yet delivered (``stream``, priority 5); {} unless more
    than one priority is present, so a plain docket shows nothing new."""
    depths = dict(lanes)
    if stream > 0:
        depths[DEFAULT_PRIORITY] = stream
    if len(depths) < 2:
        return {}
    return dict(sorted(depths.items(), reverse=True))


def message_priority(fields: Mapping[bytes, bytes]) -> int:
    """The priority a message carries (5 when it has none or a bad one)."""
    raw = fields.get(b"priority")
    if raw is None:
        return DEFAULT_PRIORITY
    try:
        value = int(raw)
    except ValueError:
        return DEFAULT_PRIORITY
    return value if value in PRIORITIES else DEFAULT_PRIORITY


__all__ = [
    "DEFAULT_PRIORITY",
    "DISPATCHED",
    "DOORBELL",
    "DispatchCall",
    "PRIORITIES",
    "LaneStore",
    "by_priority",
    "dispatched",
    "message_priority",
]
