"""Scheduling many executions at once: one pipelined round trip per chunk.

Every execution is still its own call of schedule.lua (so each keeps the
semantics of a single add or replace: key deduplication, generations, atomic
placement). A chunk's calls go out together on the batcher's held connection, in
one write packed by hiredis, and each reply is read on its own: a Redis error for
one call fails only that execution.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from redis.exceptions import RedisError

from . import scripts
from .base import BrokerBase
from .batcher import Stream, script_command
from .queue import QueueOps
from .types import ScheduleRequest

# One outcome per request: the script's status ("OK", "EXISTS", ...) or the
# Redis error its call got.
Outcome = str | RedisError


class BatchOps(QueueOps, BrokerBase):
    @asynccontextmanager
    async def schedule_stream(self) -> AsyncGenerator[ScheduleStream, None]:
        """Chunks of schedule calls written back to back (see ``ScheduleStream``)."""
        if self.batcher is None:
            yield ScheduleStream(self, None)
            return
        async with self.batcher.stream() as stream:
            yield ScheduleStream(self, stream)

    def outcomes(self, replies: Sequence[Any]) -> list[Outcome]:
        """schedule.lua replies as outcomes (a connection fault among them raises)."""
        outcomes: list[Outcome] = []
        for reply in replies:
            if isinstance(reply, RedisError):
                outcomes.append(reply)
            elif isinstance(reply, BaseException):
                raise reply
            else:
                outcomes.append(self.schedule_status(reply))
        return outcomes

    async def schedule_batch(
        self, requests: Sequence[ScheduleRequest]
    ) -> list[Outcome]:
        """Run schedule.lua for every request, in order, in one round trip.

        Connection failures propagate (the caller cannot know which calls ran)."""
        if not requests:
            return []
        if self.batcher is None:  # in-process engine: no round trips to save
            return [await self._schedule_one(request) for request in requests]
        script = scripts.SCHEDULE
        calls = [
            (script_command(script, *self.schedule_call(request)), script)
            for request in requests
        ]
        return self.outcomes(await self.batcher.send_many(calls))

    async def _schedule_one(self, request: ScheduleRequest) -> Outcome:
        try:
            return await self.place(request)
        except RedisError as error:
            return error


class ScheduleStream:
    """schedule.lua calls written as they are built (``write``), their outcomes
    read later in order (``read``): the caller builds the next calls while Redis
    places the ones before. In-process (memory://) each batch is placed at once."""

    def __init__(self, ops: BatchOps, stream: Stream | None) -> None:
        self._ops = ops
        self._stream = stream
        self._placed: list[list[Outcome]] = []

    @property
    def unread(self) -> int:
        if self._stream is None:
            return len(self._placed)
        return self._stream.unread

    async def write(self, requests: Sequence[ScheduleRequest]) -> None:
        if self._stream is None:
            self._placed.append(await self._ops.schedule_batch(requests))
            return
        script = scripts.SCHEDULE
        await self._stream.write(
            [
                (script_command(script, *self._ops.schedule_call(request)), script)
                for request in requests
            ]
        )

    async def read(self) -> list[Outcome]:
        """The outcomes of the oldest batch written and not read yet."""
        if self._stream is None:
            return self._placed.pop(0)
        return self._ops.outcomes(await self._stream.read())
