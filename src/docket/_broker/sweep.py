"""The redelivery sweep: taking up messages their workers abandoned.

The sweep first looks (XPENDING with an idle filter, which skips every message a
live worker keeps renewing, wherever it lies in the pending list), then claims
what it chose (XCLAIM, which re-checks the idle time, so two sweeping workers
never take the same message). Looking first lets it leave out:

* messages this worker holds itself (a lapsed lease after a stalled event loop is
  renewed, never run again);
* all but one *suspect*: a message already delivered ``quarantine - 1`` times
  without being acknowledged may be what keeps killing its workers (``os._exit``,
  an OOM kill). A worker runs at most one suspect at a time, so a crashing task
  cannot take other redelivered work down with it again and again.

Messages past the delivery limit are always taken: they are dead-lettered, not run.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from redis.exceptions import ResponseError

from .store import Store
from .types import Delivery, Sweep


def _field(row: Any, name: str) -> Any:
    """A field of an XPENDING row (redis-py uses str keys, the memory engine bytes)."""
    return row[name] if name in row else row[name.encode()]


class SweepStore(Store):
    async def reclaim(
        self,
        consumer: str,
        count: int,
        min_idle_ms: int,
        *,
        holding: Collection[bytes] = (),
        take_suspect: bool = True,
        quarantine: int = 3,
        limit: int | None = None,
    ) -> Sweep:
        """Claim for ``consumer`` up to ``count`` messages idle for ``min_idle_ms``
        (see the module docstring for what is left out)."""
        try:
            rows = await self.client.xpending_range(
                self.keys.stream,
                self.group,
                "-",
                "+",
                count + len(holding),
                idle=min_idle_ms,
            )
        except ResponseError as error:
            if "NOGROUP" not in str(error):
                raise
            await self.ensure_group()
            return Sweep([])
        chosen: dict[bytes, int] = {}
        suspects: set[bytes] = set()
        for row in rows:
            message_id: bytes = _field(row, "message_id")
            if message_id in holding:
                continue
            delivery = int(_field(row, "times_delivered")) + 1
            if delivery >= quarantine and (limit is None or delivery <= limit):
                if not take_suspect or suspects:
                    continue
                suspects.add(message_id)
            chosen[message_id] = delivery
            if len(chosen) >= count:
                break
        if not chosen:
            return Sweep([])
        claimed = await self.client.xclaim(
            self.keys.stream, self.group, consumer, min_idle_ms, list(chosen)
        )
        deliveries = [
            Delivery(mid, fields, True, chosen.get(mid, 1))
            for mid, fields in claimed
            if fields
        ]
        taken = {d.message_id for d in deliveries}
        return Sweep(deliveries, frozenset(suspects & taken))
