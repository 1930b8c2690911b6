"""Session: the state one processing session of a worker shares between its loops."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from uncalled_for import Dependency

from .. import _defaults
from .._broker import Broker, Delivery, Settlement
from .._handles import WorkerHandle
from .._redis.outages import OutageLog
from ..docket import Docket
from ..execution import Execution

logger = logging.getLogger("docket.worker")

SWEEP_GRACE_EXTRA = _defaults.SWEEP_GRACE_EXTRA.total_seconds()

# While a run until finished waits on work held elsewhere: its first look's wait.
FIRST_FINISH_POLL_MS = 5


class SessionWorker(WorkerHandle, Protocol):
    """What a processing session reads of its ``Worker`` (its settings)."""

    reconnection_delay: timedelta
    max_deliveries: int
    minimum_check_interval: timedelta
    scheduling_resolution: timedelta
    schedule_automatic_tasks: bool
    dependencies: dict[str, Dependency[Any]]
    message_batch: int
    priority_aging: timedelta
    isolated_processes: int | None
    max_tasks_per_child: int
    pools: dict[str, int]
    isolation: Any  # its pools of isolated children (isolation/), or None

    @property
    def reseed_interval(self) -> float:
        """Seconds between re-adds of automatic perpetual tasks."""
        ...

    def note_claim(self, key: str) -> None:
        """Count a claim of ``key`` (``run_at_most`` stops a key at its limit)."""
        ...


@dataclass
class Pulse:
    """Whether a session runs, and when its heartbeat last reached Redis.

    The Worker owns it across sessions; the health endpoint reads it."""

    active: bool = False
    last_beat: float = 0.0
    # The paused task types as the session last read them (pauses.py).
    paused: frozenset[str] = frozenset()
    # Redis's maxmemory-policy when it is not noeviction (warned once at start-up;
    # the health endpoint repeats it).
    eviction_policy: str | None = None
    eviction_checked: bool = False
    # The start-up line was logged (once per worker, however often a session
    # must start again while Redis is unreachable).
    announced: bool = False

    def healthy(self, horizon: float) -> bool:
        return self.active and time.monotonic() - self.last_beat < horizon


@dataclass(eq=False)
class Running:
    """An execution this worker holds, from claim until its settlement is written."""

    execution: Execution
    task: asyncio.Task[None] | None = None
    cancel_requested: bool = False
    followed_up: bool = False  # its CompletionHandler ran (it never runs twice)
    suspect: bool = False  # delivered often enough that it may be killing workers


@dataclass(eq=False)
class Session:
    worker: SessionWorker
    docket: Docket
    broker: Broker
    forever: bool
    stop: asyncio.Event
    free_slots: int
    executor: Executor | None = None
    pulse: Pulse = field(default_factory=Pulse)
    refused: BaseException | None = None  # the listener's permission error, if any
    running: dict[str, Running] = field(default_factory=dict)
    by_message: dict[bytes, Running] = field(default_factory=dict)
    slot_freed: asyncio.Event = field(default_factory=asyncio.Event)
    wake_scheduler: asyncio.Event = field(default_factory=asyncio.Event)
    listening: asyncio.Event = field(default_factory=asyncio.Event)
    # Set once automatic perpetuals were seeded (or there is nothing to seed): a
    # run until finished does not end before their first copies exist.
    seeded: asyncio.Event = field(default_factory=asyncio.Event)
    # How long a run until finished next waits for work held elsewhere (loop.py).
    finish_poll_ms: int = FIRST_FINISH_POLL_MS
    pending: list[tuple[Settlement, Running, asyncio.Future[None] | None]] = field(
        default_factory=list
    )
    pending_ready: asyncio.Event = field(default_factory=asyncio.Event)
    settler_idle: asyncio.Event = field(default_factory=asyncio.Event)
    # Metric attributes per task name (see report.labels).
    metric_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    # Read ahead, not yet claimed (see loop.py): in this consumer's pending list,
    # so leased and kept out of the sweep like the executions held.
    buffer: list[Delivery] = field(default_factory=list)
    # The task group executions run in, while the main loop runs (the settler
    # starts the executions it claims there), and how many such claims are out.
    executions: Any = None
    claiming: int = 0
    # Whether each task function runs on the fast path (declares no dependencies).
    plain_tasks: dict[Any, bool] = field(default_factory=dict)
    # A moving average of task durations: read ahead only while tasks are short.
    typical_duration: float = float("inf")
    # Priority lanes (lanes.py): whether some lane may hold a task (reads then
    # dispatch first), and when the oldest priority-5 task waiting in the stream
    # became due as far as this worker knows (None: the stream had none left).
    lanes: bool = False
    # The last dispatch handed over all it was asked for: more lane tasks may rank
    # before the stream's, so reads beside dispatches stay small.
    lanes_ahead: bool = True
    stream_head: float | None = None
    lane_placements: int = 0  # the docket broker's count, as last seen
    # The buffer was just filled by a read that dispatched first: no lane task
    # can rank before what it holds yet (lanes.stale_buffer).
    buffer_fresh: bool = False
    # The paused task types (pauses.py), and a nudge to read them again.
    paused: frozenset[str] = frozenset()
    pauses_changed: asyncio.Event = field(default_factory=asyncio.Event)
    # The worker's pools of isolated children (isolation/).
    isolation: Any = None
    # Redis outages (resilience.py): the process's log of them for this URL; a
    # nudge that starts the probe (Redis unreachable); the event the probe sets
    # when Redis answers again, which ends every loop's backoff pause at once.
    outage: OutageLog | None = None
    unreachable: asyncio.Event = field(default_factory=asyncio.Event)
    back: asyncio.Event = field(default_factory=asyncio.Event)
    # The sweep's grace (loop.py): after trouble reaching Redis (a failure, or a
    # round trip that came back late) no sweep until our own leases were renewed
    # and a renewal interval has passed, so every worker that lived through the
    # same stall renews its leases before anyone takes them for abandoned.
    troubled: bool = False
    sweep_hold_until: float = 0.0

    @property
    def in_flight(self) -> int:
        return len(self.by_message)

    @property
    def suspect_running(self) -> bool:
        return any(held.suspect for held in self.by_message.values())

    def hold(self, execution: Execution) -> Running:
        held = Running(execution)
        self.running[execution.key] = held
        self.by_message[execution.message_id or b""] = held
        self.free_slots -= 1
        return held

    def release(self, held: Running) -> None:
        """Give back the slot of an execution that is settled (or never will be here)."""
        execution = held.execution
        if self.by_message.pop(execution.message_id or b"", None) is None:
            return
        if self.running.get(execution.key) is held:
            del self.running[execution.key]
        self.free_slots += 1
        self.slot_freed.set()

    def settle(
        self, held: Running, settlement: Settlement, wait: bool
    ) -> asyncio.Future[None] | None:
        """Queue a settlement for the next batch; a future to await when ``wait``."""
        future = asyncio.get_running_loop().create_future() if wait else None
        self.pending.append((settlement, held, future))
        self.pending_ready.set()
        return future

    def is_idle(self) -> bool:
        return not self.by_message and not self.pending and not self.buffer

    @property
    def holding(self) -> set[bytes]:
        """Every message this worker holds: executions, and those read ahead."""
        return {*self.by_message, *(d.message_id for d in self.buffer)}

    @property
    def renewal_interval(self) -> float:
        """How often leases are renewed: a quarter of the redelivery timeout."""
        return self.worker.redelivery_timeout.total_seconds() / 4

    def note_trouble(self) -> None:
        """Redis failed us: hold the sweep until a renewal gets through."""
        self.troubled = True

    def note_contact(self, late: float, renewed: bool) -> None:
        """A round trip came back ``late`` seconds beyond what it should take
        (``renewed``: it renewed our leases). Late by two renewal intervals (half
        the redelivery timeout) or more is trouble too: Redis may have stalled
        long enough for leases to look expired. (A shorter stall cannot expire
        one: leases are renewed every interval. A busy event loop is late too,
        and then the grace only delays sweeps, so the bar is kept high.)"""
        if late >= 2 * self.renewal_interval:
            self.troubled = True
        if self.troubled and renewed:
            self.troubled = False
            self.sweep_hold_until = time.monotonic() + self.sweep_grace

    @property
    def sweep_grace(self) -> float:
        """How long sweeps wait after our first renewal past trouble: a renewal
        interval, and a second for the other workers' probes and renewals."""
        return self.renewal_interval + SWEEP_GRACE_EXTRA

    def may_sweep(self) -> bool:
        return not self.troubled and time.monotonic() >= self.sweep_hold_until

    def note_duration(self, seconds: float) -> None:
        """Fold one task's duration into ``typical_duration``."""
        if self.typical_duration == float("inf"):
            self.typical_duration = seconds
        else:
            self.typical_duration += (seconds - self.typical_duration) / 8


async def wait_for(event: asyncio.Event, timeout: float) -> bool:
    """Wait for ``event`` at most ``timeout`` seconds; True if it was set.

    Python 3.11's ``asyncio.timeout`` never loses a cancellation that arrives as
    the event is set (3.11's ``asyncio.wait_for`` can swallow it, leaving a loop
    that was told to stop waiting for ever)."""
    if event.is_set():
        return True
    timeout_scope = getattr(asyncio, "timeout", None)
    try:
        if timeout_scope is None:  # pragma: no cover - Python 3.10
            await asyncio.wait_for(event.wait(), timeout)
        else:
            async with timeout_scope(timeout):
                await event.wait()
    except asyncio.TimeoutError:
        return False
    return True
