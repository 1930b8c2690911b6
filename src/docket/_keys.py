"""The keyspace: every key and channel name of one docket, built in one place,
the names a Docket exposes for them, and the UUIDv7 task keys.

P is the docket name, or ``{name}`` in cluster mode so that every key of a
docket hashes to one slot.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass
from functools import cached_property

from . import _defaults

# The names of the docket's own keys (``P:<name>``) and key families
# (``P:<family>...``). A parked future task lives at ``P:<task key>``; a task key
# that is one of these names, or starts with one of these families, parks at
# ``P:parked:<task key>`` instead, so that no task key can ever land on a docket
# key. ``parked:`` is a family itself, which makes the mapping injective: a key
# that already starts with ``parked:`` is escaped again, so no two task keys share
# a parked key. Every other task key keeps ``P:<task key>`` (key names are part of
# the contract). _prelude.lua's parked_key() holds the same two lists; a new key
# of the docket must be added to both (tests/core/test_task_keys.py checks every
# Keyspace name against them).
OWN_NAMES = frozenset(
    {
        "queue",
        "stream",
        "strikes",
        "workers",
        "listening",
        "dead",
        "failed",
        "results",
        "worker-capacity",
        "paused",
        "waiting",
        "lanes",
        "doorbell",
    }
)
OWN_FAMILIES = (
    "runs:",
    "progress:",
    "results:",
    "known:",
    "stream-id:",
    "worker-tasks:",
    "task-workers:",
    "cancel:",
    "state:",
    "stats:",
    "leases:",
    "paused:",
    "perpetual:",
    "parked:",
    # Workflows: a waiting task's gate, the waiters of a task (see _gates.lua).
    "gate:",
    "waiters:",
    # A run's checkpoint: Checkpoint and Suspend (see _steps.lua).
    "steps:",
    # Signals: kept signals, the waiters of a signal, the timeouts (_mailbox.lua).
    "mailbox:",
    # Priorities: the lane of each priority, the keys a MaxQueued task type holds.
    "lane:",
    "queued:",
    # Admission-control keys of a docket scoped by its name (P:<kind>:<tag>).
    "concurrency:",
    "debounce:",
    "ratelimit:",
    "cooldown:",
    # FairShare: backlogs per value, weights (see _broker/lua/_fair.lua).
    "fair:",
)
PARKED_FAMILY = "parked:"


def parked_suffix(task_key: str) -> str:
    """What follows ``P:`` in the parked key of ``task_key`` (see OWN_NAMES)."""
    if task_key in OWN_NAMES or task_key.startswith(OWN_FAMILIES):
        return PARKED_FAMILY + task_key
    return task_key


class GeneratedKey(str):
    """A task key this process just generated (a fresh uuid7).

    Markers that earlier pydocket releases left (``P:known:K``) cannot exist for it,
    so scheduling it skips looking for them."""

    __slots__ = ()


def check_task_key(key: str) -> None:
    """Reject task keys that are not text, empty, or not encodable as UTF-8.

    Any other text is a valid key, the docket's own key names and control
    characters included: scripts carry keys as whole arguments, every event
    escapes them as JSON, and a parked task never lands on a docket key
    (``parked_suffix``)."""
    if not isinstance(key, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(f"Task keys must be strings, not {type(key).__name__}")
    if not key:
        raise ValueError("Task keys must not be empty")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            f"Task key {key!r} is not valid text: it cannot be encoded as UTF-8"
        ) from None


def check_task_name(name: str) -> None:
    """Reject a task name that cannot name a task type (empty, or not UTF-8 text)."""
    if not name:
        raise ValueError("A task name must not be empty")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            f"Task name {name!r} is not valid text: it cannot be encoded as UTF-8"
        ) from None


def check_docket_name(name: str) -> None:
    """Refuse docket names whose keyspace could overlap another docket's.

    Every key of docket ``orders`` is ``orders:<suffix>``, and suffixes hold task
    keys: with ``:`` allowed in names, docket ``orders`` keying a task ``eu:stream``
    would park it on docket ``orders:eu``'s stream. A name without ``:`` is never a
    prefix of another docket's keys. Braces are refused too: on a cluster the prefix
    is ``{name}``, a hash tag that must hold the whole name."""
    if not name or not isinstance(name, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ValueError("A docket needs a non-empty name")
    for character in (":", "{", "}"):
        if character in name:
            raise ValueError(
                f"Docket name {name!r} contains {character!r}: docket names may not "
                "contain ':', '{' or '}', so that no two dockets' keys can overlap "
                f"(docket 'orders' would otherwise share keys with 'orders:eu'). "
                "Use another separator, such as '-' or '.'"
            )


@dataclass(frozen=True)
class Keyspace:
    """Names of the keys and channels of the docket with prefix ``prefix`` (the
    fixed ones are built once per Keyspace)."""

    prefix: str

    def key(self, suffix: str) -> str:
        return f"{self.prefix}:{suffix}"

    @cached_property
    def stream(self) -> str:
        return f"{self.prefix}:stream"

    @cached_property
    def queue(self) -> str:
        return f"{self.prefix}:queue"

    @cached_property
    def strikes(self) -> str:
        return f"{self.prefix}:strikes"

    @cached_property
    def dead(self) -> str:
        """The dead-letter stream: messages that must never run, with the reason."""
        return f"{self.prefix}:dead"

    @cached_property
    def workers(self) -> str:
        return f"{self.prefix}:workers"

    @cached_property
    def results(self) -> str:
        return f"{self.prefix}:results"

    @cached_property
    def listening(self) -> str:
        """Flag set by state/progress subscribers; events publish only while set."""
        return f"{self.prefix}:listening"

    @cached_property
    def wake(self) -> str:
        """Channel a producer publishes on when it adds a new earliest future task.

        It sits under ``P:cancel:``, so a worker's one pattern subscription hears
        it, and ACL users granted only ``&P:cancel:*``, ``&P:state:*`` and
        ``&P:progress:*`` (as pydocket's own setup does) may use it. It is also the
        cancel channel of a task keyed ``wake``: a cancel message carries the task
        key (``wake``), a wake-up the due time (a number), which tells them apart."""
        return f"{self.prefix}:cancel:wake"

    @cached_property
    def paused(self) -> str:
        """Hash of paused task names -> ``p:<ISO time>`` (paused since) or
        ``r:<ISO time>`` (being resumed); a field exists only while its task is
        paused or its held work is being released."""
        return f"{self.prefix}:paused"

    def paused_tasks(self, function: str) -> str:
        """Sorted set of the task keys held while ``function`` is paused (score:
        their due time); their messages wait in their parked hashes
        (``parked(K)``)."""
        return f"{self.prefix}:paused:{function}"

    @cached_property
    def pause_signal(self) -> str:
        """Channel a pause or resume is announced on, under ``P:cancel:`` like the
        wake-ups (it is also the cancel channel of a task keyed ``paused``: a
        cancel message carries the task key, which tells them apart)."""
        return f"{self.prefix}:cancel:paused"

    @cached_property
    def redelivery_sweep(self) -> str:
        """The fleet-wide redelivery lease (under ``leases:``, never a task's key)."""
        return f"{self.prefix}:leases:redelivery-sweep"

    @cached_property
    def failed(self) -> str:
        """The failed tasks: a stream, newest entries last (read backwards)."""
        return f"{self.prefix}:failed"

    @cached_property
    def worker_capacity(self) -> str:
        """Hash of worker name -> concurrency, refreshed with every heartbeat."""
        return f"{self.prefix}:worker-capacity"

    def stats(self, minute: int) -> str:
        """Per-minute throughput counts (``<outcome>:<task>`` -> count) of one minute,
        ``minute`` being the epoch seconds of its start."""
        return f"{self.prefix}:stats:{minute}"

    def timing_window(self, start: int) -> str:
        """Runtime and queue-wait histograms of the ten-minute window from epoch
        second ``start`` (see ``_broker.timing``), under the reserved ``stats:`` prefix."""
        return f"{self.prefix}:stats:window:{start}"

    @cached_property
    def perpetual_lock(self) -> str:
        return f"{self.prefix}:perpetual:lock"

    def result(self, task_key: str) -> str:
        """The built-in result store's key for one task key."""
        return f"{self.prefix}:results:{task_key}"

    def runs(self, task_key: str) -> str:
        return f"{self.prefix}:runs:{task_key}"

    def parked(self, task_key: str) -> str:
        """Where a future task waits: ``P:K``, or ``P:parked:K`` when K names one of
        the docket's own keys (``parked_suffix``)."""
        return f"{self.prefix}:{parked_suffix(task_key)}"

    @property
    def waiting(self) -> str:
        """Every task waiting for its parents now (a sorted set by due time)."""
        return f"{self.prefix}:waiting"

    @property
    def lanes(self) -> str:
        """The priority lanes that hold a task (a set of priorities; ``_lanes.lua``)."""
        return f"{self.prefix}:lanes"

    @property
    def doorbell(self) -> str:
        """The stream id of the doorbell entry, while one is in the stream."""
        return f"{self.prefix}:doorbell"

    def lane(self, priority: int) -> str:
        """The due tasks of ``priority`` (not 5) waiting to be dispatched, by due time."""
        return f"{self.prefix}:lane:{priority}"

    def queued_of(self, task: str) -> str:
        """The keys of a ``MaxQueued`` task type that may still wait (by due time)."""
        return f"{self.prefix}:queued:{task}"

    def gate(self, task_key: str) -> str:
        """What the task added with ``after=`` waits for (see ``_gates.lua``)."""
        return f"{self.prefix}:gate:{task_key}"

    def waiters(self, task_key: str) -> str:
        """The keys of the tasks waiting for ``task_key``'s run to end."""
        return f"{self.prefix}:waiters:{task_key}"

    def steps(self, task_key: str) -> str:
        """The checkpoint of ``task_key``'s run: ``Checkpoint`` marks and values,
        ``Suspend``'s suspension points (see ``_steps.lua``)."""
        return f"{self.prefix}:steps:{task_key}"

    def signal_waiters(self, name: str) -> str:
        """The keys of the tasks waiting for signal ``name``, oldest wait first
        (see ``_mailbox.lua``)."""
        return f"{self.prefix}:mailbox:waiters:{name}"

    def signals_kept(self, name: str) -> str:
        """Signals ``name`` sent while nobody waited, kept for a lookback."""
        return f"{self.prefix}:mailbox:kept:{name}"

    @property
    def signal_deadlines(self) -> str:
        """The tasks waiting for a signal with a timeout, by deadline."""
        return f"{self.prefix}:mailbox:deadlines"

    def progress(self, task_key: str) -> str:
        return f"{self.prefix}:progress:{task_key}"

    def cancel_channel(self, task_key: str) -> str:
        return f"{self.prefix}:cancel:{task_key}"

    @cached_property
    def cancel_pattern(self) -> str:
        return f"{self.prefix}:cancel:*"

    def state_channel(self, task_key: str) -> str:
        return f"{self.prefix}:state:{task_key}"

    def progress_channel(self, task_key: str) -> str:
        return f"{self.prefix}:progress:{task_key}"

    def known(self, task_key: str) -> str:
        return f"{self.prefix}:known:{task_key}"

    def stream_id(self, task_key: str) -> str:
        return f"{self.prefix}:stream-id:{task_key}"

    def worker_tasks(self, worker: str) -> str:
        return f"{self.prefix}:worker-tasks:{worker}"

    def task_workers(self, task: str) -> str:
        return f"{self.prefix}:task-workers:{task}"

    # ---- FairShare (_broker/lua/_fair.lua builds the same names) ----

    @property
    def fair_tasks(self) -> str:
        """The FairShare tasks that have a backlog (a sorted set, every score 0)."""
        return f"{self.prefix}:fair:tasks"

    @property
    def fair_weights(self) -> str:
        """Hash ``fair_field(task, value)`` -> weight of that value."""
        return f"{self.prefix}:fair:weights"

    def fair(self, kind: str, task: str, value: str | None = None) -> str:
        """``P:fair:<kind>:<byte length of task>:<task>[:<value>]``: the length
        prefix keeps every (task, value) pair on a key of its own, whatever the
        bytes of either."""
        name = f"{self.prefix}:fair:{kind}:{fair_field(task)}"
        return name if value is None else f"{name}:{value}"


def fair_field(task: str, value: str | None = None) -> str:
    """``<byte length>:<task>[:<value>]``, injective for any task and value."""
    head = f"{len(task.encode())}:{task}"
    return head if value is None else f"{head}:{value}"


# ---- admission control keys ---------------------------------------------------
#
# - concurrency (S = P, or ``P:<scope>``): ``S:concurrency:<function>`` or
#   ``S:concurrency:<argument>:<value>``, and ``<slot key>:waiters``;
# - the others (C = the scope, or the docket *name*): ``C:cooldown:<tag>``,
#   ``C:ratelimit:<tag>``, ``C:debounce:<tag>:{<tag>}:winner`` and ``...:last_seen``,
#   where ``<tag>`` is the function name or ``<argument>:<value>``.


def admission_tag(function_name: str, argument: str | None, value: object) -> str:
    """``<function>`` for a per-task control, ``<argument>:<value>`` per argument."""
    return function_name if argument is None else f"{argument}:{value}"


def concurrency_key(prefix: str, scope: str | None, tag: str) -> str:
    base = prefix if scope is None else f"{prefix}:{scope}"
    return f"{base}:concurrency:{tag}"


def waiters_key(slot_key: str) -> str:
    return f"{slot_key}:waiters"


def control_key(name: str, scope: str | None, kind: str, tag: str) -> str:
    """``<scope or docket name>:<kind>:<tag>`` for cooldown and rate-limit keys."""
    return f"{scope or name}:{kind}:{tag}"


def debounce_keys(name: str, scope: str | None, tag: str) -> tuple[str, str]:
    base = f"{scope or name}:debounce:{tag}:{{{tag}}}"
    return f"{base}:winner", f"{base}:last_seen"


class DocketNames:
    """Names of a docket's keys, read from its current keyspace."""

    name: str
    _keyspace: Keyspace

    @property
    def keyspace(self) -> Keyspace:
        """The names of this docket's keys and channels (hash-tagged on a cluster)."""
        return self._keyspace

    @property
    def worker_group_name(self) -> str:
        return _defaults.WORKER_GROUP

    @property
    def prefix(self) -> str:
        return self.keyspace.prefix

    def key(self, suffix: str) -> str:
        return self.keyspace.key(suffix)

    @property
    def queue_key(self) -> str:
        return self.keyspace.queue

    @property
    def stream_key(self) -> str:
        return self.keyspace.stream

    def runs_key(self, task_key: str) -> str:
        return self.keyspace.runs(task_key)

    def cancel_channel(self, task_key: str) -> str:
        return self.keyspace.cancel_channel(task_key)

    @property
    def results_collection(self) -> str:
        return self.keyspace.results

    def parked_task_key(self, task_key: str) -> str:
        return self.keyspace.parked(task_key)

    def known_task_key(self, task_key: str) -> str:
        return self.keyspace.known(task_key)

    def stream_id_key(self, task_key: str) -> str:
        return self.keyspace.stream_id(task_key)

    @property
    def redelivery_sweep_key(self) -> str:
        """The key of the fleet-wide redelivery lease (``P:leases:redelivery-sweep``)."""
        return self.keyspace.redelivery_sweep

    @property
    def workers_set(self) -> str:
        return self.keyspace.workers

    def worker_tasks_set(self, worker_name: str) -> str:
        return self.keyspace.worker_tasks(worker_name)

    def task_workers_set(self, task_name: str) -> str:
        return self.keyspace.task_workers(task_name)

    def labels(self) -> dict[str, str]:
        return {"docket.name": self.name}


_lock = threading.Lock()
_last = 0


def uuid7() -> uuid.UUID:
    """A version 7 UUID whose 74 bits after the timestamp increase monotonically."""
    global _last
    entropy = int.from_bytes(os.urandom(10), "big")  # one system call for both
    with _lock:
        millis = time.time_ns() // 1_000_000
        counter_bits = entropy >> 54  # 26 random bits
        candidate = (millis << 26) | counter_bits
        if candidate <= _last:
            candidate = _last + 1
        _last = candidate
    millis, sequence = candidate >> 26, candidate & ((1 << 26) - 1)
    rand_a = sequence >> 14  # 12 bits
    rand_b = ((sequence & 0x3FFF) << 48) | (entropy & ((1 << 48) - 1))
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76 | rand_a << 64
    value |= 0b10 << 62 | rand_b
    return uuid.UUID(int=value)
