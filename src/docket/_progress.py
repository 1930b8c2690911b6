"""ExecutionProgress: a task's progress, stored in P:progress:K and published live.

A write Redis cannot take (it is unreachable, out of memory, read only...) never
fails the task: the values are kept, the task goes on at once, and one writer in
the background tries again (with backoff) until Redis takes them. Writes made
meanwhile join the one waiting, the latest value winning (increments add up), so
a long outage costs one write when it ends, not one per report. Settling the run
drops what is still waiting (``discard_pending``): the run's outcome matters
more than its last progress.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict

from . import _codec
from ._defaults import PROGRESS_TOTAL
from ._handles import DocketHandle
from ._redis.faults import Backoff, Fault, classify
from ._text import as_text

logger = logging.getLogger("docket.worker")

RETRY_FIRST, RETRY_CAP = 0.1, 2.0  # the background writer's backoff, in seconds


class ProgressEvent(TypedDict):
    type: str
    key: str
    current: int | None
    total: int
    message: str | None
    updated_at: str | None


@dataclass
class _Waiting:
    """Progress writes Redis has not taken yet, merged into one."""

    fields: dict[str, Any] = field(default_factory=dict[str, Any])
    increment: int = 0
    delete_message: bool = False

    def add(self, fields: dict[str, Any], increment: int, delete_message: bool) -> None:
        if delete_message:
            self.fields.pop("message", None)
            self.delete_message = True
        elif "message" in fields:
            self.delete_message = False
        self.fields.update(fields)
        self.increment += increment


class ExecutionProgress:
    """Progress of one execution: ``current`` of ``total``, with a ``message``."""

    def __init__(self, docket: DocketHandle, key: str, generation: int = 0) -> None:
        self.docket = docket
        self.key = key
        # The generation of the run that writes this progress: the first write
        # tags the hash with it, so a stale run never touches its successor's.
        self.generation = generation
        self.current: int | None = None
        self.total: int = 1
        self.message: str | None = None
        self.updated_at: datetime | None = None
        self.written = False
        self._waiting: _Waiting | None = None  # writes Redis has not taken yet
        self._writer: asyncio.Task[None] | None = None

    @classmethod
    async def create(cls, docket: DocketHandle, key: str) -> ExecutionProgress:
        progress = cls(docket, key)
        await progress.sync()
        return progress

    def reset(self) -> None:
        self.current, self.total, self.message, self.updated_at = (
            None,
            PROGRESS_TOTAL,
            None,
            None,
        )

    def _event(self) -> str:
        return json.dumps(
            {
                "type": "progress",
                "key": self.key,
                "current": self.current if self.current is not None else 0,
                "total": self.total,
                "message": self.message,
                "updated_at": _codec.iso(self.updated_at) if self.updated_at else None,
            }
        )

    def _touch(self) -> dict[str, Any]:
        self.updated_at = _codec.now()
        self.written = True
        return {"updated_at": _codec.iso(self.updated_at)}

    def _claimed_fields(self) -> dict[str, Any]:
        """Fields the first write of a run adds, so the hash is complete and tagged."""
        if self.written:
            return {}
        return {"total": self.total, "generation": self.generation}

    async def set_total(self, total: int) -> None:
        if total < 1:
            raise ValueError("Total must be at least 1")
        self.total = total
        fields = {**self._claimed_fields(), "total": total, **self._touch()}
        if self.current is None:
            self.current = 0
        await self._write(fields)

    async def increment(self, amount: int = 1) -> None:
        if amount < 1:
            raise ValueError("Amount must be at least 1")
        fields = {**self._claimed_fields(), **self._touch()}
        await self._write(fields, increment=amount)

    async def set_message(self, message: str | None) -> None:
        self.message = message
        fields = {**self._claimed_fields(), **self._touch()}
        if message is not None:
            fields["message"] = message
        await self._write(fields, delete_message=message is None)

    async def _write(
        self, fields: dict[str, Any], increment: int = 0, delete_message: bool = False
    ) -> None:
        if self._waiting is not None:  # Redis is failing: join the waiting write
            self._waiting.add(fields, increment, delete_message)
            self._count_locally(increment)
            return
        try:
            await self._send(fields, increment, delete_message)
        except Exception as error:
            if classify(error) is Fault.BUG:
                raise
            self._waiting = _Waiting()
            self._waiting.add(fields, increment, delete_message)
            self._count_locally(increment)
            self._writer = asyncio.ensure_future(self._write_later())

    def _count_locally(self, increment: int) -> None:
        if increment:
            self.current = (self.current or 0) + increment

    async def _send(
        self, fields: dict[str, Any], increment: int, delete_message: bool
    ) -> None:
        broker = self.docket.broker
        current, listening = await broker.events.write_progress(
            self.key, fields, increment=increment, delete_message=delete_message
        )
        if current is not None:  # replies of concurrent increments may arrive late
            self.current = max(current, self.current or 0)
        if listening:
            try:
                await broker.events.publish(
                    self.docket.keyspace.progress_channel(self.key), self._event()
                )
            except Exception as error:  # the hash holds it; a watcher syncs
                if classify(error) is Fault.BUG:
                    raise

    async def _write_later(self) -> None:
        """Send the waiting writes until Redis takes them (backoff between tries)."""
        backoff = Backoff(RETRY_FIRST, RETRY_CAP)
        while self._waiting is not None:
            await asyncio.sleep(backoff.next_delay())
            waiting, self._waiting = self._waiting, _Waiting()
            try:
                await self._send(
                    waiting.fields, waiting.increment, waiting.delete_message
                )
            except Exception as error:
                if classify(error) is Fault.BUG:
                    logger.exception("Progress of %r could not be written", self.key)
                    self._waiting = None
                    break
                newer, self._waiting = self._waiting, waiting
                self._waiting.add(newer.fields, newer.increment, newer.delete_message)
                continue
            left = self._waiting
            if not (left.fields or left.increment or left.delete_message):
                self._waiting = None
        self._writer = None

    def discard_pending(self) -> None:
        """Drop the writes still waiting for Redis (the run is being settled)."""
        self._waiting = None
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.cancel()

    async def sync(self) -> None:
        record = await self.docket.broker.events.progress_record(self.key)
        if not record:
            self.reset()
            return
        self.current = int(record.get(b"current", b"0"))
        self.total = int(record.get(b"total", PROGRESS_TOTAL))
        message = record.get(b"message")
        self.message = None if message is None else as_text(message)
        self.updated_at = _codec.from_iso(record.get(b"updated_at"))

    async def subscribe(
        self, *, ready: asyncio.Event | None = None
    ) -> AsyncGenerator[dict[str, Any]]:
        """Yield each progress event published for this key (plain dicts)."""
        channel = self.docket.keyspace.progress_channel(self.key)
        async with self.docket.broker.events.subscription([channel]) as subscription:
            if ready is not None:
                ready.set()
            while True:
                yield json.loads(await subscription.next())
