"""Placing, withdrawing and delivering tasks: the stream and the future queue.

``schedule_batch`` places many requests in one pipelined round trip per chunk:
every request is still its own call of schedule.lua (so each keeps the semantics
of a single add or replace: key deduplication, generations, atomic placement); a
chunk's calls go out together on the auto-pipeline's held connection, in one write
packed by hiredis, and each reply is read on its own: a Redis error for one call
fails only that execution. ``schedule_many`` places executions already built:
pydocket exposes this engine of its batch methods as
``docket.execution.schedule_many(redis, executions, *, replace, chunk_size)``.
``Docket.add_many``/``replace_many`` do more (strike checks, counters, spans,
building while sending); this is the bare placement, for code that built its
executions itself. Each execution's own docket places it (the ``redis`` argument
is accepted for the signature's sake: every execution already knows where it goes).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any, Protocol

from redis.exceptions import RedisError, ResponseError

from .. import _clock, _codec
from .._defaults import HISTORY_KEPT, LEGACY_MARKER_GRACE, MOVE_BATCH
from .._keys import GeneratedKey
from .._states import Disposition
from . import scripts
from .pipelining import Stream, script_command
from .store import Store
from .types import Delivery, DueResult, ScheduleRequest

LEGACY_GRACE = str(int(LEGACY_MARKER_GRACE.total_seconds()))
HISTORY = str(HISTORY_KEPT)


def _is_nogroup(error: ResponseError) -> bool:
    return "NOGROUP" in str(error)


class QueueStore(Store):
    async def schedule(
        self,
        key: str,
        when: float,
        immediate: bool,
        mode: str,
        fields: Mapping[bytes, bytes],
        reschedule_from: bytes | None = None,
        keep_added: bool = False,
    ) -> str:
        """Place a task: "OK", "EXISTS" (add of a live key) or "SUPERSEDED"
        (reschedule of a message whose key was replaced meanwhile). ``keep_added``
        keeps the record's "added" time (moving a waiting task)."""
        request = ScheduleRequest(
            key, when, immediate, mode, dict(fields), reschedule_from, keep_added
        )
        return await self.place(request)

    async def place(self, request: ScheduleRequest) -> str:
        """Run schedule.lua for one request (see ``schedule``). Straight to the
        autopipeline: every add passes here, and each coroutine layer it awaits through
        is one more object for the garbage collector while many are in flight."""
        keys, args = self.schedule_call(request)
        if request.immediate and b"priority" in request.fields:
            self.shared.lane_placements += 1
        script = scripts.SCHEDULE
        if self.autopipeline is not None:
            reply = await self.autopipeline.send(
                script_command(script, keys, args), script
            )
        else:
            reply = await self.run_script(script, keys, args)
        return self.schedule_status(reply)

    def schedule_call(
        self, request: ScheduleRequest
    ) -> tuple[list[str], list[str | bytes]]:
        """The keys and arguments of schedule.lua for ``request`` (every argument
        already text or bytes)."""
        k, key = self.keys, request.key
        keys = [k.stream, k.queue, k.runs(key), k.parked(key), k.listening]
        now = repr(_clock.time())
        if isinstance(key, GeneratedKey):  # fresh: no legacy marker can exist
            legacy = ""
        else:
            legacy = now
            keys += [k.known(key), k.stream_id(key)]
        keep = request.keep_added or request.mode in ("reschedule", "repark")
        ended = request.ended
        args: list[str | bytes] = [
            k.prefix,
            key,
            repr(request.when),
            "1" if request.immediate else "0",
            request.mode,
            request.reschedule_from or b"",
            self.shared.publish_mode(),
            self.group,
            legacy,
            LEGACY_GRACE,
            k.wake,
            "" if keep else now,
            str(ended.attempt) if ended else "",
            ended.document if ended else "",
            HISTORY,
            str(request.expected_generation),
        ]
        for name, value in request.gate:  # a gated add's "~" pairs come first
            args.append(name)
            args.append(value)
        for name, value in request.fields.items():
            args.append(name)
            args.append(value)
        return keys, args

    def schedule_status(self, reply: Any) -> str:
        """The status of a schedule.lua reply (noting whether anyone listens)."""
        status, listening = reply
        self.shared.note_listening(int(listening))
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
                k.known(key),
                k.stream_id(key),
            ],
            [
                key,
                completed_at,
                ttl_seconds,
                k.state_channel(key),
                k.cancel_channel(key) if signal else "",
                k.prefix,
            ],
        )
        return reply.decode() if isinstance(reply, bytes) else str(reply)

    async def stream_due(
        self,
        now: float,
        limit: int = MOVE_BATCH,
        worker: str = "",
        ttl_seconds: int = 0,
    ) -> DueResult:
        """Move up to ``limit`` tasks due by ``now`` into the stream. A parked task
        that is not a hash goes to the dead letters (by ``worker``), its record
        failed (kept ``ttl_seconds``, deleted when 0)."""
        k = self.keys
        moment = _codec.iso(datetime.fromtimestamp(now, timezone.utc))
        moved, first, buried = await self.run_script(
            scripts.STREAM_DUE,
            [k.queue, k.stream, k.listening, k.dead],
            [
                k.prefix,
                repr(now),
                limit,
                moment,
                worker,
                ttl_seconds,
                self.shared.dead_limit,
                self.shared.retention_ttl,
            ],
        )
        next_due = float(first) if first not in (b"", "") else None
        return DueResult(int(moved), next_due, int(buried))

    async def read(
        self, consumer: str, count: int, block_ms: int | None
    ) -> list[Delivery]:
        """New messages for ``consumer``, blocking up to ``block_ms`` when none wait
        (None: answer at once, through the autopipeline when there is one)."""
        try:
            if block_ms is None and self.autopipeline is not None:
                reply = await self.autopipeline.send(self.read_command(consumer, count))
                return parse_read(reply)
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

    def read_command(self, consumer: str, count: int) -> tuple[str | int, ...]:
        """XREADGROUP of up to ``count`` new messages, not blocking (raw reply: see
        ``parse_read``)."""
        return (
            "XREADGROUP",
            "GROUP",
            self.group,
            consumer,
            "COUNT",
            count,
            "STREAMS",
            self.keys.stream,
            ">",
        )

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

    async def pending_work(
        self, due_by: float | None = None, fair: bool = False
    ) -> bool:
        """Whether anything waits in the stream, on a priority lane or in the
        future queue (with ``due_by``, only queued tasks due by then count; with
        ``fair``, in a FairShare backlog too). Tasks waiting for a signal do not
        count: they wait for something outside the docket."""
        pipe = self.backend.pipeline()
        pipe.xlen(self.keys.stream)
        if due_by is None:
            pipe.zcard(self.keys.queue)
        else:
            pipe.zcount(self.keys.queue, "-inf", due_by)
        pipe.smembers(self.keys.lanes)
        if fair:
            pipe.zcard(self.keys.fair_tasks)
        return any(await pipe.execute())

    async def next_due(self) -> float | None:
        """When the earliest task of the future queue is due, or the earliest
        signal wait times out (None: neither has any)."""
        pipe = self.backend.pipeline()
        pipe.zrange(self.keys.queue, 0, 0, withscores=True)
        pipe.zrange(self.keys.signal_deadlines, 0, 0, withscores=True)
        found = [float(first[0][1]) for first in await pipe.execute() if first]
        return min(found) if found else None

    async def depths(self) -> tuple[int, int]:
        """(ready: stream length + overdue queued, future: queued not yet due)."""
        pipe = self.backend.pipeline()
        self.depth_commands(pipe)
        return self.parse_depths(await pipe.execute())

    def depth_commands(self, pipe: Any) -> None:
        """Add the three commands ``depths`` reads to ``pipe``."""
        now = _clock.time()
        pipe.xlen(self.keys.stream)
        pipe.zcount(self.keys.queue, "-inf", now)
        pipe.zcount(self.keys.queue, now, "+inf")

    @staticmethod
    def parse_depths(replies: Sequence[Any]) -> tuple[int, int]:
        length, overdue, future = replies[:3]
        return int(length) + int(overdue), int(future)

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


def parse_read(reply: Any) -> list[Delivery]:
    """The deliveries of an XREADGROUP reply: raw (RESP2 lists or a RESP3 map, with
    each entry's fields flat) or as redis-py parses it (a cluster pipeline does:
    fields in a dict). Entries deleted while pending (no fields) are left out."""
    if not reply:
        return []
    streams = reply.items() if isinstance(reply, dict) else reply
    deliveries: list[Delivery] = []
    for _stream, messages in streams:
        for message_id, flat in messages or ():
            if not flat:
                continue
            if isinstance(flat, dict):
                fields: dict[bytes, bytes] = flat
            else:
                fields = dict(zip(flat[::2], flat[1::2], strict=True))
            deliveries.append(Delivery(message_id, fields, False))
    return deliveries


# One outcome per request: the script's status ("OK", "EXISTS", ...) or the
# Redis error its call got.
Outcome = str | RedisError


class ScheduleStream:
    """schedule.lua calls written as they are built (``write``), their outcomes
    read later in order (``read``): the caller builds the next calls while Redis
    places the ones before. In-process (memory://) each batch is placed at once."""

    def __init__(self, ops: QueueStore, stream: Stream | None) -> None:
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


class _Broker(Protocol):
    @property
    def queue(self) -> QueueStore: ...


class _Docket(Protocol):
    @property
    def broker(self) -> _Broker: ...


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
            outcomes = await docket.broker.queue.schedule_batch(requests)
            for execution, request, outcome in zip(
                group, requests, outcomes, strict=True
            ):
                if isinstance(outcome, RedisError):
                    execution.disposition = Disposition.FAILED
                    execution.schedule_exception = outcome
                else:
                    execution.scheduled(outcome, request.immediate)
