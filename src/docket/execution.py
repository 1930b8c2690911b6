"""Execution: one scheduled invocation of a task, its state, result and progress."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

from opentelemetry import propagate, trace
from typing_extensions import Self
from uncalled_for import get_signature
from uncalled_for.introspection import _signature_cache  # pyright: ignore[reportPrivateUsage]

from . import _clock, _codec
from ._broker import AttemptNote, RunRecord, ScheduleRequest
from ._broker.gates import gate_fields, refusal
from ._broker.mailbox import wait_fields
from ._broker.queue import schedule_many as schedule_many
from ._broker.waits import call_waits, signal_parameters
from ._codec import UnverifiedPayload
from ._codec.message import (
    DEFAULT_PRIORITY,
    UnverifiedMessage,
    decode_message,
    encode_message,
    identity,
    open_arguments,
)
from ._errors import FairShareFull, QueueFull
from ._handles import DocketHandle, TaskCall, TaskFunction
from ._progress import ExecutionProgress, ProgressEvent
from ._results import ExecutionOutcome
from ._states import (
    TERMINAL,
    Disposition,
    ExecutionCancelled,
    ExecutionState,
    StateEvent,
    UnknownParent,
)
from .annotations import (
    FairShare,
    call_repr,
    check_fair_value,
    compact_signature,
    fair_share_value,
)
from .annotations import Logged as Logged
from .instrumentation import CACHE_SIZE as CACHE_SIZE
from .instrumentation import message_getter, message_setter, tracing_enabled

__all__ = [
    "TERMINAL",
    "Disposition",
    "DocketHandle",
    "Execution",
    "ExecutionCancelled",
    "ExecutionProgress",
    "ExecutionState",
    "ProgressEvent",
    "StateEvent",
    "TaskCall",
    "TaskFunction",
    "UnknownParent",
    "UnverifiedMessage",
    "UnverifiedPayload",
    "_signature_cache",
    "compact_signature",
    "get_signature",
]


_GATED = {
    "WAITING": ExecutionState.WAITING,
    "CANCELLED": ExecutionState.CANCELLED,
}


class Execution(ExecutionOutcome):
    """One invocation of a task: what to call, when, and how it went."""

    def __init__(
        self,
        docket: DocketHandle,
        function: TaskFunction,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        key: str,
        when: datetime,
        attempt: int,
        trace_context: Any = None,
        redelivered: bool = False,
        function_name: str | None = None,
        generation: int = 0,
        message_id: bytes | None = None,
    ) -> None:
        self._docket = docket
        self._function = function
        self._function_name = function_name or function.__name__
        self._args = args
        self._kwargs = kwargs
        self._key = key
        self.when = when
        self.attempt = attempt
        self._trace_context = trace_context
        self._redelivered = redelivered
        self._generation = generation
        self._record_generation = generation  # the run record's, at the last sync
        self.message_id = message_id
        self.state = ExecutionState.SCHEDULED
        self.worker: str | None = None
        self.started_at: datetime | None = None
        self.completed_at: datetime | None = None
        self.error: str | None = None
        self.result_key: str | None = None
        self.disposition = Disposition.LOADED
        # The Redis error of this execution's command in add_many/replace_many.
        self.schedule_exception: BaseException | None = None
        self.progress = ExecutionProgress(docket, key, generation)
        self.acknowledged = False
        # The attempt that just failed, while failure handlers run: a handler that
        # reschedules this execution (a retry) keeps it in the run record's history.
        self.failed_attempt: AttemptNote | None = None
        self._recorded = True  # whether the last sync found a run record
        # Workflows: the parent keys this execution waits for (after=), and what a
        # parent's failure does to it ("cancel" or "run"); see docket._producer.workflows.
        self.after: tuple[str, ...] = ()
        self.on_parent_failure = "cancel"
        # The parents a WAITING execution still waits for (get_execution fills it).
        self.waiting_on: list[str] = []
        self.priority = DEFAULT_PRIORITY  # 1 (lowest) .. 9 (highest)
        self.max_queued: int | None = None  # its task's MaxQueued(n), if any
        # fair_share(), once worked out: (its answer,); None until then.
        self._fair: tuple[tuple[str, FairShare] | None] | None = None

    def _run_progress(self) -> ExecutionProgress:
        return self.progress

    @property
    def docket(self) -> DocketHandle:
        return self._docket

    @property
    def function(self) -> TaskFunction:
        return self._function

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def args(self) -> tuple[Any, ...]:
        return self._args

    @property
    def kwargs(self) -> dict[str, Any]:
        return self._kwargs

    @property
    def key(self) -> str:
        return self._key

    @property
    def trace_context(self) -> Any:
        return self._trace_context

    @property
    def redelivered(self) -> bool:
        return self._redelivered

    @property
    def generation(self) -> int:
        return self._generation

    def __repr__(self) -> str:
        return f"<Execution {self.call_repr()} {self.state.value}>"

    # ---- the message -------------------------------------------------------

    def as_message(self) -> dict[bytes, bytes]:
        message = encode_message(
            self._docket.codec,
            self._key,
            self._function_name,
            _codec.iso(self.when),
            self.attempt,
            self._generation,
            self._args,
            self._kwargs,
            self.priority,
        )
        fair = self.fair_share()
        if fair is not None:
            message[b"fair"] = fair[0].encode()
        if tracing_enabled():
            propagate.inject(message, setter=message_setter)
        return message

    def fair_share(self) -> tuple[str, FairShare] | None:
        """The value of this call's FairShare parameter and its declaration (None
        for a task without one), worked out once (an add needs it for the message
        and for the backlog's cap)."""
        if self._fair is None:
            self._fair = (fair_share_value(self._function, self._args, self._kwargs),)
        return self._fair[0]

    def keep_fair_share(self, value: str) -> None:
        """Wait in ``value``'s backlog when placed, whatever this process knows of
        the task (a replay by name, whose stand-in function declares nothing)."""
        self._fair = ((check_fair_value(value), FairShare()),)

    @classmethod
    def from_fields(
        cls,
        docket: DocketHandle,
        message: dict[bytes, bytes],
        function: TaskFunction,
        redelivered: bool = False,
        message_id: bytes | None = None,
    ) -> Self:
        """Rebuild from message fields without touching Redis. Raises
        ``MalformedMessage`` for a broken envelope or arguments of the wrong shape,
        ``UnverifiedMessage`` (before decoding anything) for arguments the docket's
        codec does not trust, and whatever decoding raises for an unreadable payload."""
        decoded = decode_message(message)
        args, kwargs = open_arguments(docket.codec, decoded)
        execution = cls(
            docket=docket,
            function=function,
            args=args,
            kwargs=kwargs,
            key=decoded.key,
            when=decoded.when,
            attempt=decoded.attempt,
            trace_context=propagate.extract(message, getter=message_getter)
            if b"traceparent" in message
            else None,
            redelivered=redelivered,
            function_name=decoded.function,
            generation=decoded.generation,
            message_id=message_id,
        )
        execution.priority = decoded.priority
        return execution

    @classmethod
    async def from_message(
        cls,
        docket: DocketHandle,
        message: dict[bytes, bytes],
        redelivered: bool = False,
        fallback_task: TaskFunction | None = None,
        message_id: bytes | None = None,
        sync: bool = True,
    ) -> Execution:
        """Rebuild an execution from its message; ``sync`` (the default) then reads
        its state from its run record, ``sync=False`` leaves the message's view."""
        name = identity(message)[1]
        function = docket.tasks.get(name, fallback_task)
        if function is None:
            raise ValueError(
                f"Task function {name!r} is not registered with the current docket"
            )
        execution = cls.from_fields(docket, message, function, redelivered, message_id)
        if sync:
            await execution.sync()
        return execution

    # ---- labels and representations ----------------------------------------

    def general_labels(self) -> dict[str, str]:
        return {"docket.task": self._function_name}

    def specific_labels(self) -> dict[str, str | int]:
        return {
            "docket.task": self._function_name,
            "docket.key": self._key,
            "docket.when": _codec.iso(self.when),
            "docket.attempt": self.attempt,
        }

    def get_argument(self, parameter: str) -> Any:
        bound = get_signature(self._function).bind_partial(*self._args, **self._kwargs)
        return bound.arguments[parameter]

    def call_repr(self) -> str:
        return call_repr(
            self._function, self._function_name, self._args, self._kwargs, self._key
        )

    def incoming_span_links(self) -> list[trace.Link]:
        if self._trace_context is None:
            return []
        context = trace.get_current_span(self._trace_context).get_span_context()
        return [trace.Link(context)] if context.is_valid else []

    # ---- lifecycle -----------------------------------------------------------

    async def schedule(
        self,
        replace: bool = False,
        reschedule_message: bytes | None = None,
        expected_generation: int = 0,
    ) -> Disposition:
        """Place this execution (atomically); returns and records the disposition.

        ``expected_generation`` (when not 0) is the generation the caller believes
        holds the key: if Redis holds a newer one, nothing is written and the
        disposition is ``SUPERSEDED``."""
        request = self.schedule_request(
            replace, reschedule_message, expected_generation
        )
        placed = await self._docket.broker.queue.place(request)
        if reschedule_message is not None and reschedule_message == self.message_id:
            self.acknowledged = True
        return self.scheduled(placed, request.immediate)

    def schedule_request(
        self,
        replace: bool = False,
        reschedule_message: bytes | None = None,
        expected_generation: int = 0,
    ) -> ScheduleRequest:
        """What schedule.lua needs to place this execution (message built now;
        due now or later by this process's clock). Raises TypeError for a naive
        ``when`` and whatever pickling raises for its arguments."""
        if self.when.tzinfo is None:
            raise TypeError(
                "Docket needs timezone-aware datetimes: use datetime.now(timezone.utc)"
            )
        immediate = self.when <= _codec.now()
        mode = "reschedule" if reschedule_message else ("replace" if replace else "add")
        return ScheduleRequest(
            self._key,
            self.when.timestamp(),
            immediate,
            mode,
            self.as_message(),
            reschedule_message,
            ended=self.failed_attempt if reschedule_message else None,
            expected_generation=expected_generation,
            gate=self._gate(reschedule_message is not None)
            + self._fair_gate(reschedule_message),
        )

    def _fair_gate(self, reschedule: bytes | None) -> tuple[tuple[str, str], ...]:
        """FairShare(max_queued=n): the cap schedule.lua checks on an add or replace."""
        fair = None if reschedule else self.fair_share()
        if fair is None or fair[1].max_queued is None:
            return ()
        return (("~fairmax", str(fair[1].max_queued)),)

    def _gate(self, moving: bool) -> tuple[tuple[str, str], ...]:
        """The "~" pairs of a gated add (after=), then of the signal waits its
        Signal parameters open (a retry opens them again: one this run received
        keeps its payload). Empty for every other task."""
        gate: tuple[tuple[str, str], ...] = ()
        if self.after and not moving:
            gate = gate_fields(
                self.after,
                self.on_parent_failure,
                self._docket.ttl_seconds,
                _codec.iso(_codec.now()),
            )
        if self.max_queued is not None and not moving:  # MaxQueued (_lanes.lua)
            gate += (("~maxqueued", str(self.max_queued)),)
        if signal_parameters(self._function):
            now = _clock.time()
            waits = call_waits(self._function, self._args, self._kwargs, now)
            gate += wait_fields(waits, now)
        return gate

    def scheduled(self, placed: str, immediate: bool) -> Disposition:
        """Record the outcome of schedule.lua ("OK", "EXISTS" or "SUPERSEDED"; for
        a gated add also "WAITING", "CANCELLED", or a refusal, raised here)."""
        if placed in _GATED:
            self.state = _GATED[placed]
            self.disposition = Disposition.SCHEDULED
            return self.disposition
        if placed == "FULL":  # MaxQueued: as many of its task already wait
            raise QueueFull(self._function_name, self.max_queued or 0, self._key)
        if self.after and (refused := refusal(placed, self._key)) is not None:
            raise refused
        if placed == "FAIRFULL":  # FairShare(max_queued=n): its value's backlog
            fair = self.fair_share()
            raise FairShareFull(
                self._function_name, self._key, fair[1].max_queued or 0 if fair else 0
            )
        if placed == "SUPERSEDED":  # a newer generation holds the key: it stands
            self.disposition = Disposition.SUPERSEDED
            return self.disposition
        if placed != "OK":  # EXISTS: a live schedule of the key stands
            self.disposition = Disposition.ALREADY_SCHEDULED
            return self.disposition
        self.state = ExecutionState.QUEUED if immediate else ExecutionState.SCHEDULED
        self.disposition = Disposition.SCHEDULED
        return self.disposition

    async def claim(self, worker: str) -> bool:
        """Mark this execution running on ``worker``; False when superseded (or
        dead-lettered: its run record is not a hash)."""
        started = _codec.now()
        batch = [
            (self._key, self._generation, self.message_id or b"", self._redelivered)
        ]
        (claimed,) = await self._docket.broker.runs.claim(
            worker, _codec.iso(started), batch
        )
        if claimed:
            self.mark_claimed(worker, started)
        else:
            self.acknowledged = True
        return bool(claimed)

    def mark_claimed(self, worker: str, started: datetime) -> None:
        """Local state after a successful claim (the worker claims in batches)."""
        self.state, self.worker, self.started_at = (
            ExecutionState.RUNNING,
            worker,
            started,
        )
        self.progress.reset()  # current None until the task reports, as a sync shows

    async def is_superseded(self) -> bool:
        """Whether the key was scheduled again since this run's message was sent.

        A run record that is gone (an eviction, a fire-and-forget replacement that
        already finished) does not count: as in pydocket, the run goes on (its
        retry or its Perpetual successor is scheduled)."""
        if self._generation == 0:
            return False
        current = await self._docket.broker.runs.generation(self._key)
        return current is not None and current > self._generation

    # ---- observing -------------------------------------------------------------

    def _apply_record(self, record: RunRecord) -> None:
        if record.state:
            self.state = ExecutionState(record.state)
        self.worker = record.worker
        self.started_at = _codec.from_iso(record.started_at)
        self.completed_at = _codec.from_iso(record.completed_at)
        self.error = record.error
        self.result_key = record.result_key
        self._record_generation = record.generation

    async def sync(self) -> None:
        record = await self._docket.broker.runs.observed(self._key)
        self._recorded = record is not None
        if record is not None:
            self._apply_record(record)
        else:
            self.state = ExecutionState.SCHEDULED
            self.worker = self.started_at = self.completed_at = None
            self.error = self.result_key = None
        await self.progress.sync()

    def state_snapshot(self) -> StateEvent:
        return StateEvent(
            type="state",
            key=self._key,
            state=self.state,
            when=_codec.iso(self.when),
            worker=self.worker,
            started_at=_codec.iso(self.started_at) if self.started_at else None,
            completed_at=_codec.iso(self.completed_at) if self.completed_at else None,
            error=self.error,
        )

    async def subscribe(
        self, *, ready: asyncio.Event | None = None
    ) -> AsyncGenerator[StateEvent | ProgressEvent]:
        """Yield the current state and progress, then every event as it happens."""
        k = self._docket.keyspace
        channels = [k.state_channel(self._key), k.progress_channel(self._key)]
        async with self._docket.broker.events.subscription(channels) as subscription:
            await self.sync()
            yield self.state_snapshot()
            p = self.progress
            yield ProgressEvent(
                type="progress",
                key=self._key,
                current=p.current,
                total=p.total,
                message=p.message,
                updated_at=_codec.iso(p.updated_at) if p.updated_at else None,
            )
            if ready is not None:
                ready.set()
            while True:
                event = json.loads(await subscription.next())
                if event.get("type") == "state":
                    event["state"] = ExecutionState(event["state"])
                yield event
