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

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from .._codec.message import DEFAULT_PRIORITY, HIGHEST_PRIORITY, LOWEST_PRIORITY
from . import scripts
from .pipelining import script_command
from .store import Store
from .types import Delivery

PRIORITIES = range(LOWEST_PRIORITY, HIGHEST_PRIORITY + 1)
LANE_LEVELS = tuple(p for p in PRIORITIES if p != DEFAULT_PRIORITY)  # the lanes
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
    count: int  # how many lane tasks it asks for
    blind: bool  # made believing the stream has no task waiting (no head given)

    def command(self) -> tuple[Any, ...]:
        return script_command(scripts.DISPATCH, self.keys, self.args)


def parse_dispatch(reply: Any) -> tuple[list[Delivery], int]:
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
        return DispatchCall([k.stream, k.lanes], args, count, head is None)

    async def dispatch(
        self, consumer: str, count: int, aging: float, head: float | None
    ) -> tuple[list[Delivery], int]:
        """Up to ``count`` lane tasks that rank before the stream's oldest waiting
        task (``head``, its due time; None when the stream has none waiting),
        delivered to ``consumer``; and how many tasks still wait on lanes."""
        call = self.dispatch_call(consumer, count, aging, head)
        reply = parse_dispatch(
            await self.run_script(scripts.DISPATCH, call.keys, call.args)
        )
        if reply[1] < 0:  # no consumer group yet: nothing was moved
            await self.ensure_group()
            raw = await self.run_script(scripts.DISPATCH, call.keys, call.args)
            reply = parse_dispatch(raw)
        return reply

    async def depths(self) -> dict[int, int]:
        """How many due tasks wait on each lane (lanes holding none left out)."""
        pipe = self.backend.pipeline()
        for priority in LANE_LEVELS:
            pipe.zcard(self.keys.lane(priority))
        counts = await pipe.execute()
        return {p: int(n) for p, n in zip(LANE_LEVELS, counts, strict=True) if int(n)}


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


# Where a listing of due tasks goes on (``ViewStore.due_page``): after a stream
# entry (its id: the stream's unread messages, priority 5), or after a lane task
# ``<priority>:<due>:<key>`` (its lane's order: due time, then key).
LaneMark = tuple[float, str]
_STREAM_ID = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}$")


def lane_cursor(level: int, due: float, key: str) -> str:
    """The cursor after the task ``key`` of lane ``level``, due at ``due``."""
    return f"{level}:{due!r}:{key}"


def due_cursor(text: str) -> tuple[int, str | LaneMark]:
    """(priority, where to go on) of a cursor from ``due_page``: a stream id is
    the stream's (priority 5); ``<p>:<due>:<key>`` lane p's. ValueError for
    anything else."""
    if _STREAM_ID.match(text):
        return DEFAULT_PRIORITY, text
    level, _, rest = text.partition(":")
    due, colon, key = rest.partition(":")
    try:
        priority, moment = int(level), float(due)
    except ValueError:
        priority, moment = 0, math.nan
    if not colon or priority not in PRIORITIES or priority == DEFAULT_PRIORITY:
        raise ValueError(f"not a queued-task cursor: {text!r}")
    if not math.isfinite(moment):
        raise ValueError(f"not a queued-task cursor: {text!r}")
    return priority, (moment, key)


def start_order(
    levels: Collection[int], after: str | None
) -> list[tuple[int, str | LaneMark | None]]:
    """Where due tasks wait, in the order workers start them, from the cursor
    ``after`` on: each lane in ``levels`` above 5 (highest first), the stream
    (5), each lane below; with where to go on in the first (None: its start).
    Aging, which lets a task that waited long start before a higher priority,
    is each worker's own setting, so this order is by priority alone."""
    order = sorted({*levels, DEFAULT_PRIORITY}, reverse=True)
    if after is None:
        return [(level, None) for level in order]
    first, mark = due_cursor(after)
    rest: list[tuple[int, str | LaneMark | None]] = [
        (level, None) for level in order if level < first
    ]
    return [(first, mark), *rest]


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
    "LANE_LEVELS",
    "DispatchCall",
    "PRIORITIES",
    "LaneMark",
    "LaneStore",
    "by_priority",
    "parse_dispatch",
    "due_cursor",
    "lane_cursor",
    "message_priority",
    "start_order",
]
