"""Scheduling many executions at once: one pipelined round trip per chunk.

Every execution is still its own call of schedule.lua (so each keeps the
semantics of a single add or replace: key deduplication, generations, atomic
placement). A chunk's calls go out as one non-transactional pipeline, and each
reply is read on its own: a Redis error for one call fails only that execution.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.exceptions import NoScriptError, RedisError

from . import scripts
from .base import BrokerBase
from .queue import QueueOps
from .types import ScheduleRequest

# One outcome per request: the script's status ("OK", "EXISTS", ...) or the
# Redis error its call got.
Outcome = str | RedisError


class BatchOps(QueueOps, BrokerBase):
    async def prepare_schedule_batch(self) -> None:
        """Load schedule.lua once before a batch, so every EVALSHA finds it."""
        if not self.backend.is_memory:
            await self.client.script_load(scripts.SCHEDULE.inline.source)

    async def schedule_batch(
        self, requests: Sequence[ScheduleRequest]
    ) -> list[Outcome]:
        """Run schedule.lua for every request, in order, in one round trip.

        Connection failures propagate (the caller cannot know which calls ran)."""
        if not requests:
            return []
        if self.backend.is_memory:  # in-process engine: no round trips to save
            return [await self._schedule_one(request) for request in requests]
        calls = [self.schedule_call(request) for request in requests]
        pipe = self.client.pipeline(transaction=False)
        for keys, args in calls:
            # execute_command, not pipe.evalsha: cluster pipelines block the latter
            pipe.execute_command(
                "EVALSHA", scripts.SCHEDULE.inline.sha, len(keys), *keys, *args
            )
        replies = await pipe.execute(raise_on_error=False)
        outcomes: list[Outcome] = []
        for (keys, args), reply in zip(calls, replies, strict=True):
            if isinstance(reply, NoScriptError):  # a node that forgot the script
                try:
                    values = [
                        a if isinstance(a, (str, bytes)) else str(a) for a in args
                    ]
                    reply = await scripts.SCHEDULE.call_inline(
                        self.client, keys, values
                    )
                except RedisError as error:
                    reply = error
            if isinstance(reply, RedisError):
                outcomes.append(reply)
            elif isinstance(reply, BaseException):
                raise reply
            else:
                outcomes.append(self.schedule_status(reply))
        return outcomes

    async def _schedule_one(self, request: ScheduleRequest) -> Outcome:
        keys, args = self.schedule_call(request)
        try:
            reply = await self.run_script(scripts.SCHEDULE, keys, args)
        except RedisError as error:
            return error
        return self.schedule_status(reply)
