"""Placing, withdrawing and delivering tasks: the stream and the future queue."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from redis.exceptions import ResponseError

from .._defaults import MOVE_BATCH
from . import scripts
from .base import BrokerBase
from .types import Delivery, DueResult, Sweep


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _is_nogroup(error: ResponseError) -> bool:
    return "NOGROUP" in str(error)


class QueueOps(BrokerBase):
    async def schedule(
        self,
        key: str,
        when: float,
        immediate: bool,
        mode: str,
        fields: Mapping[bytes, bytes],
        event: str,
        reschedule_from: bytes | None = None,
    ) -> str:
        """Place a task: "OK", "EXISTS" (add of a live key) or "SUPERSEDED"
        (reschedule of a message whose key was replaced meanwhile)."""
        k = self.keys
        args: list[str | bytes | float] = [
            key,
            repr(when),
            "1" if immediate else "0",
            mode,
            reschedule_from or b"",
            self.group,
            k.state_channel(key),
            k.wake,
            event,
            self._publish_mode(),
        ]
        for name, value in fields.items():
            args.append(name)
            args.append(value)
        status, listening = await self.run_script(
            scripts.SCHEDULE,
            [k.stream, k.queue, k.runs(key), k.parked(key), k.listening],
            args,
        )
        self._note_listening(int(listening))
        return status.decode() if isinstance(status, bytes) else str(status)

    async def cancel(
        self, key: str, completed_at: str, ttl_seconds: int, signal: bool
    ) -> str:
        k = self.keys
        reply = await self.run_script(
            scripts.CANCEL,
            [
                k.stream,
                k.queue,
                k.runs(key),
                k.parked(key),
                k.progress(key),
                k.listening,
            ],
            [
                key,
                completed_at,
                ttl_seconds,
                k.state_channel(key),
                k.cancel_channel(key) if signal else "",
            ],
        )
        return reply.decode() if isinstance(reply, bytes) else str(reply)

    async def stream_due(self, now: float, limit: int = MOVE_BATCH) -> DueResult:
        k = self.keys
        moved, first = await self.run_script(
            scripts.STREAM_DUE,
            [k.queue, k.stream, k.listening],
            [k.prefix, repr(now), limit],
        )
        return DueResult(int(moved), float(first) if first not in (b"", "") else None)

    async def read(self, consumer: str, count: int, block_ms: int) -> list[Delivery]:
        """New messages for ``consumer``, blocking up to ``block_ms`` when none wait."""
        try:
            reply = await self.client.xreadgroup(
                self.group,
                consumer,
                {self.keys.stream: ">"},
                count=count,
                block=block_ms,
            )
        except ResponseError as error:
            if not _is_nogroup(error):
                raise
            await self.ensure_group()
            return []
        deliveries: list[Delivery] = []
        for _stream, messages in reply or []:
            for message_id, fields in messages:
                if fields:
                    deliveries.append(Delivery(message_id, fields, False))
        return deliveries

    async def reclaim(
        self, consumer: str, count: int, min_idle_ms: int, cursor: str = "0-0"
    ) -> Sweep:
        """Messages left unacknowledged for at least ``min_idle_ms``, claimed for
        ``consumer``, scanning the pending list from ``cursor``.

        Redis scans a bounded part of the pending list per call, so the sweep
        returns where to go on: keeping that cursor between sweeps, every orphan
        is found within a few sweeps, whatever lies ahead of it."""
        try:
            reply = await self.client.xautoclaim(
                self.keys.stream, self.group, consumer, min_idle_ms, cursor, count=count
            )
        except ResponseError as error:
            if not _is_nogroup(error):
                raise
            await self.ensure_group()
            return Sweep([], "0-0")
        following = _text(reply[0])
        found = [(mid, fields) for mid, fields in reply[1] if fields]
        counts = await self._delivery_counts([mid for mid, _ in found])
        deliveries = [
            Delivery(mid, fields, True, counts.get(mid, 1)) for mid, fields in found
        ]
        return Sweep(deliveries, following)

    async def _delivery_counts(self, message_ids: list[bytes]) -> dict[bytes, int]:
        """How many times each pending message was delivered (one round trip)."""
        if not message_ids:
            return {}
        pipe = self.backend.pipeline()
        for mid in message_ids:
            text = _text(mid)
            pipe.xpending_range(self.keys.stream, self.group, text, text, 1)
        counts: dict[bytes, int] = {}
        for mid, rows in zip(message_ids, await pipe.execute(), strict=True):
            for row in rows:
                value = row.get("times_delivered", row.get(b"times_delivered", 1))
                counts[mid] = int(value)
        return counts

    async def renew(self, consumer: str, message_ids: Sequence[bytes]) -> None:
        """Reset the idle time of this consumer's in-flight messages (its lease)."""
        if message_ids:
            await self.client.xclaim(
                self.keys.stream,
                self.group,
                consumer,
                0,
                list(message_ids),
                idle=0,
                justid=True,
            )

    async def acknowledge(self, message_ids: Sequence[bytes]) -> None:
        """Acknowledge and delete messages that will never run (unreadable payloads)."""
        if message_ids:
            pipe = self.backend.pipeline()
            pipe.xack(self.keys.stream, self.group, *message_ids)
            pipe.xdel(self.keys.stream, *message_ids)
            await pipe.execute()

    async def pending_work(self) -> bool:
        """Whether anything waits in the stream or the future queue."""
        pipe = self.backend.pipeline()
        pipe.xlen(self.keys.stream)
        pipe.zcard(self.keys.queue)
        stream_length, queued = await pipe.execute()
        return bool(stream_length) or bool(queued)

    async def depths(self) -> tuple[int, int]:
        """(ready: stream length + overdue queued, future: queued not yet due)."""
        now = time.time()
        pipe = self.backend.pipeline()
        pipe.xlen(self.keys.stream)
        pipe.zcount(self.keys.queue, "-inf", now)
        pipe.zcount(self.keys.queue, now, "+inf")
        length, overdue, future = await pipe.execute()
        return int(length) + int(overdue), int(future)
