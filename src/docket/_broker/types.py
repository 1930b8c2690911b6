"""Small frozen values the broker hands back: docket terms, not raw Redis replies."""

from __future__ import annotations

from dataclasses import dataclass, field

from .._codec.message import DEFAULT_PRIORITY, HIGHEST_PRIORITY, LOWEST_PRIORITY


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message read from the stream for this worker."""

    message_id: bytes
    fields: dict[bytes, bytes]
    redelivered: bool
    deliveries: int = 1  # how many times the group has delivered it, this time included


@dataclass(frozen=True, slots=True)
class Sweep:
    """What one redelivery sweep claimed, and which of those are suspects."""

    deliveries: list[Delivery]
    suspects: frozenset[bytes] = frozenset()


@dataclass(frozen=True, slots=True)
class Failure:
    """What the failed tasks keep of a run that ended FAILED, beside the
    task name, key and pickled arguments that settle.lua reads from the run record."""

    error_type: str
    message: str
    traceback: str
    attempt: int
    worker: str
    started_at: str = ""


@dataclass(frozen=True, slots=True)
class Settlement:
    """The final word on one execution, settled with others in one script call."""

    key: str
    generation: int
    message_id: bytes | None
    state: str
    completed_at: str = ""  # "" = the time the batch is settled
    error: str = ""
    stored_result: bool = False
    wrote_progress: bool = False
    function: str = ""  # the task name, for the per-minute throughput counts
    failure: Failure | None = None  # kept in P:failed when state is "failed"
    # Seconds the run took and waited past its due time (None: not measured),
    # for the per-task-type timing windows.
    runtime: float | None = None
    wait: float | None = None

    # The run received its cancellation and carried on to this state: its own
    # outcome stands over the record's "cancelled".
    ignored_cancel: bool = False


@dataclass(frozen=True, slots=True)
class AttemptNote:
    """One ended attempt of a run that goes on (a retry): what the run record's
    ``history:<attempt>`` field keeps, as JSON."""

    attempt: int
    document: str


@dataclass(frozen=True, slots=True)
class ScheduleRequest:
    """One call of schedule.lua: where and how to place one execution's message."""

    key: str
    when: float  # epoch seconds
    immediate: bool
    mode: str  # "add" | "replace" | "reschedule" | "repark"
    fields: dict[bytes, bytes]
    reschedule_from: bytes | None = None
    # Keep the record's "added" time (a move of a waiting task); a reschedule
    # (retry) always keeps it, an add or replace stamps now.
    keep_added: bool = False
    # The attempt that just ended, as the record's history keeps it (a retry).
    ended: AttemptNote | None = None
    # not 0: leave the key alone (SUPERSEDED) if its record holds a newer generation
    expected_generation: int = 0
    # A gated add (after=): its gate's "~" pairs, written before the message fields
    # (see ``_workflows.gate_fields``); empty for every other schedule.
    gate: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class DueResult:
    moved: int
    next_due: float | None
    dead_lettered: int = 0  # parked tasks that were not hashes (bad-parked-task)


LIVE_STATES = frozenset({"scheduled", "queued", "running", "waiting"})


def _text(raw: dict[bytes, bytes], name: bytes) -> str | None:
    value = raw.get(name)
    return None if value is None else value.decode(errors="replace")


def _number(raw: dict[bytes, bytes], name: bytes) -> float | None:
    try:
        return float(raw[name])
    except (KeyError, ValueError):
        return None


def _priority(raw: dict[bytes, bytes]) -> int:
    """The record's priority (schedule.lua writes it only when not the default;
    a bad one reads as the default)."""
    value = _number(raw, b"priority")
    if value is None or not value.is_integer():
        return DEFAULT_PRIORITY
    level = int(value)
    return level if LOWEST_PRIORITY <= level <= HIGHEST_PRIORITY else DEFAULT_PRIORITY


def _history(raw: dict[bytes, bytes]) -> dict[int, str]:
    found: dict[int, str] = {}
    for name, value in raw.items():
        if name.startswith(b"history:") and name[8:].isdigit():
            found[int(name[8:])] = value.decode(errors="replace")
    return found


@dataclass(frozen=True, slots=True)
class RunRecord:
    """The run record ``P:runs:K`` of one task key, decoded once, here.

    Every field may be missing (a record being written, or one left by another
    version); a malformed number reads as missing rather than raising."""

    state: str | None = None
    when: float | None = None
    function: str | None = None
    args: bytes | None = None
    kwargs: bytes | None = None
    generation: int = 0
    stream_id: str | None = None
    worker: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    error: str | None = None
    result_key: str | None = None
    waiter_entry_id: str | None = None
    # Copied from a signed or non-pickle message, so the record verifies like it.
    message_when: str | None = None
    attempt: str | None = None
    serializer: str | None = None
    signature: str | None = None
    # What the task's page shows: when it was added (epoch seconds), whether the
    # current attempt is a redelivery, a failure's traceback, and the notes of
    # earlier attempts of a retried run (attempt number -> JSON).
    added: float | None = None
    redelivered: bool = False
    traceback: str | None = None
    history: dict[int, str] = field(default_factory=dict[int, str])
    # The run's priority, 1 (lowest) .. 9 (highest), kept through its moves.
    priority: int = DEFAULT_PRIORITY

    @classmethod
    def decode(cls, raw: dict[bytes, bytes]) -> RunRecord | None:
        """The record of an HGETALL reply; None when there is no record."""
        if not raw:
            return None
        generation = _number(raw, b"generation")
        return cls(
            state=_text(raw, b"state"),
            when=_number(raw, b"when"),
            function=_text(raw, b"function"),
            args=raw.get(b"args"),
            kwargs=raw.get(b"kwargs"),
            generation=int(generation) if generation is not None else 0,
            stream_id=_text(raw, b"stream_id"),
            worker=_text(raw, b"worker"),
            started_at=_text(raw, b"started_at"),
            completed_at=_text(raw, b"completed_at"),
            error=_text(raw, b"error"),
            result_key=_text(raw, b"result_key"),
            waiter_entry_id=_text(raw, b"waiter_entry_id"),
            message_when=_text(raw, b"message_when"),
            attempt=_text(raw, b"attempt"),
            serializer=_text(raw, b"serializer"),
            signature=_text(raw, b"signature"),
            added=_number(raw, b"added"),
            redelivered=raw.get(b"redelivered") == b"1",
            traceback=_text(raw, b"traceback"),
            history=_history(raw),
            priority=_priority(raw),
        )

    @property
    def live(self) -> bool:
        """Scheduled, queued or running: the key may not be added again."""
        return self.state in LIVE_STATES
