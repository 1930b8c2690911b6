"""Scheduling many executions at once: one pipelined round trip per chunk.

Every execution is still its own call of schedule.lua (so each keeps the
semantics of a single add or replace: key deduplication, generations, atomic
placement). A chunk's calls go out together on the batcher's held connection, in
one write packed by hiredis, and each reply is read on its own: a Redis error for
one call fails only that execution.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.exceptions import RedisError

from . import scripts
from .base import BrokerBase
from .batcher import script_command
from .queue import QueueOps
from .types import ScheduleRequest

# One outcome per request: the script's status ("OK", "EXISTS", ...) or the
# Redis error its call got.
Outcome = str | RedisError


class BatchOps(QueueOps, BrokerBase):
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
        replies = await self.batcher.send_many(calls)
        outcomes: list[Outcome] = []
        for reply in replies:
            if isinstance(reply, RedisError):
                outcomes.append(reply)
            elif isinstance(reply, BaseException):
                raise reply
            else:
                outcomes.append(self.schedule_status(reply))
        return outcomes

    async def _schedule_one(self, request: ScheduleRequest) -> Outcome:
        try:
            return await self.place(request)
        except RedisError as error:
            return error
