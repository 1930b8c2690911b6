"""Scheduling many executions at once: one pipelined round trip per chunk.

``schedule_many`` places executions already built, a chunk per round trip.
pydocket exposes this engine of its batch methods as
``docket.execution.schedule_many(redis, executions, *, replace, chunk_size)``.
``Docket.add_many``/``replace_many`` do more (strike checks, counters, spans,
building while sending); this is the bare placement, for code that built its
executions itself. Each execution's own docket places it (the ``redis`` argument
is accepted for the signature's sake: every execution already knows where it goes).

Every execution is still its own call of schedule.lua (so each keeps the
semantics of a single add or replace: key deduplication, generations, atomic
placement). A chunk's calls go out together on the autopipeline's held connection, in
one write packed by hiredis, and each reply is read on its own: a Redis error for
one call fails only that execution.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

from redis.exceptions import RedisError

from .._states import Disposition
from . import scripts
from .base import BrokerBase
from .pipelining import Stream, script_command
from .queue import QueueOps
from .types import ScheduleRequest

# One outcome per request: the script's status ("OK", "EXISTS", ...) or the
# Redis error its call got.
Outcome = str | RedisError


class BatchOps(QueueOps, BrokerBase):
    @asynccontextmanager
    async def schedule_stream(self) -> AsyncGenerator[ScheduleStream, None]:
        """Chunks of schedule calls written back to back (see ``ScheduleStream``)."""
        if self.autopipeline is None:
            yield ScheduleStream(self, None)
            return
        async with self.autopipeline.stream() as stream:
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
        if self.autopipeline is None:  # in-process engine: no round trips to save
            return [await self._schedule_one(request) for request in requests]
        script = scripts.SCHEDULE
        calls = [
            (script_command(script, *self.schedule_call(request)), script)
            for request in requests
        ]
        return self.outcomes(await self.autopipeline.send_many(calls))

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


class _Docket(Protocol):
    @property
    def broker(self) -> BatchOps: ...


class Placeable(Protocol):
    """What schedule_many needs of an Execution."""

    disposition: Disposition
    schedule_exception: BaseException | None

    @property
    def docket(self) -> Any: ...

    def schedule_request(
        self,
        replace: bool = False,
        reschedule_message: bytes | None = None,
        expected_generation: int = 0,
    ) -> ScheduleRequest: ...

    def scheduled(self, placed: str, immediate: bool) -> Disposition: ...


async def schedule_many(
    redis: Any,
    executions: Sequence[Placeable],
    *,
    replace: bool,
    chunk_size: int | None = 1000,
) -> None:
    """Place ``executions`` in order, ``chunk_size`` calls per round trip (None:
    all in one). Each gets its own disposition; a Redis error for one call marks
    only that execution ``FAILED`` (the error in ``schedule_exception``); a lost
    connection raises, leaving unsent executions ``LOADED``. No strike check and
    no counters: those belong to ``add_many``/``replace_many``."""
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    step = chunk_size or max(len(executions), 1)
    for start in range(0, len(executions), step):
        chunk = executions[start : start + step]
        by_docket: dict[int, list[Placeable]] = {}
        for execution in chunk:
            by_docket.setdefault(id(execution.docket), []).append(execution)
        for group in by_docket.values():
            docket: _Docket = group[0].docket
            requests = [execution.schedule_request(replace) for execution in group]
            outcomes = await docket.broker.schedule_batch(requests)
            for execution, request, outcome in zip(
                group, requests, outcomes, strict=True
            ):
                if isinstance(outcome, RedisError):
                    execution.disposition = Disposition.FAILED
                    execution.schedule_exception = outcome
                else:
                    execution.scheduled(outcome, request.immediate)
