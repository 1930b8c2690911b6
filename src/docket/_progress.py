"""ExecutionProgress: a task's progress, stored in P:progress:K and published live."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict

from . import _codec
from ._defaults import PROGRESS_TOTAL
from ._handles import DocketHandle

if TYPE_CHECKING:
    import asyncio


class ProgressEvent(TypedDict):
    type: str
    key: str
    current: int | None
    total: int
    message: str | None
    updated_at: str | None


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
        broker = self.docket.broker
        current, listening = await broker.write_progress(
            self.key, fields, increment=increment, delete_message=delete_message
        )
        if current is not None:  # replies of concurrent increments may arrive late
            self.current = max(current, self.current or 0)
        if listening:
            await broker.publish(
                self.docket.keyspace.progress_channel(self.key), self._event()
            )

    async def sync(self) -> None:
        record = await self.docket.broker.progress_record(self.key)
        if not record:
            self.reset()
            return
        self.current = int(record.get(b"current", b"0"))
        self.total = int(record.get(b"total", PROGRESS_TOTAL))
        self.message = _codec.text(record.get(b"message"))
        self.updated_at = _codec.from_iso(record.get(b"updated_at"))

    async def subscribe(
        self, *, ready: asyncio.Event | None = None
    ) -> AsyncGenerator[dict[str, Any]]:
        """Yield each progress event published for this key (plain dicts)."""
        channel = self.docket.keyspace.progress_channel(self.key)
        async with self.docket.broker.subscription([channel]) as subscription:
            if ready is not None:
                ready.set()
            while True:
                yield json.loads(await subscription.next())
