"""The gates of workflows: what a gated add (``after=``) sends to schedule.lua and
what its refusals mean, and reading what a task added with ``after=`` waits for
and which tasks wait for a key (``broker.gates``).

Every change to a gate happens inside the scripts that start and end runs
(``lua/_gates.lua``); this module packs a gated add's "~" pairs, turns a refusal
status into the exception a caller sees, and reads. A cycle is refused with
``docket.CycleError`` (the dependency engine's, which the public API already
names), so one ``except CycleError`` covers both kinds."""

from __future__ import annotations

from dataclasses import dataclass

from uncalled_for import CycleError

from .._errors import UnknownParent
from .._text import as_text_replacing
from .store import Store

WAITING_MARK = "w"


@dataclass(frozen=True, slots=True)
class GateView:
    """One task's gate: each parent key with the state it ended in (None while the
    task still waits for it), how many things it still waits for, and its policy."""

    parents: dict[str, str | None]
    pending: int
    total: int
    policy: str
    released: bool  # every parent ended (or the task itself has ended)

    @property
    def awaited(self) -> list[str]:
        """The parents not ended yet (sorted)."""
        return [key for key, state in self.parents.items() if state is None]


def decode_gate(raw: dict[bytes, bytes] | dict[str, str]) -> GateView | None:
    """A gate hash decoded (None when there is none)."""
    if not raw:
        return None
    fields = {as_text_replacing(k): as_text_replacing(v) for k, v in raw.items()}
    parents: dict[str, str | None] = {}
    for name, mark in sorted(fields.items()):
        if name.startswith("p:"):
            parents[name[2:]] = None if mark == WAITING_MARK else mark
    try:
        pending = int(fields.get("~pending", "0"))
        total = int(fields.get("~total", str(len(parents))))
    except ValueError:
        pending, total = len([p for p in parents.values() if p is None]), len(parents)
    return GateView(
        parents,
        pending,
        total,
        fields.get("~policy", "cancel"),
        pending <= 0 or "~dropped" in fields,
    )


class GateStore(Store):
    async def get(self, key: str) -> GateView | None:
        """The gate of ``key`` (None when it was added without ``after=``, or its
        gate is gone)."""
        return decode_gate(await self.client.hgetall(self.keys.gate(key)))

    async def followers(self, key: str) -> list[str]:
        """The keys of the tasks still waiting for ``key``'s run to end."""
        members = await self.client.smembers(self.keys.waiters(key))
        return sorted(as_text_replacing(m) for m in members)


POLICIES = ("cancel", "run")


def check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise ValueError(f"on_parent_failure must be 'cancel' or 'run', got {policy!r}")
    return policy


def gate_fields(
    parents: tuple[str, ...], policy: str, ttl: int, now: str
) -> tuple[tuple[str, str], ...]:
    """The "~" pairs of a gated add's schedule.lua call (see its header): one
    ``~after`` per parent, then the policy, the TTL of a record cancelled at once
    and its ``completed_at``."""
    pairs = [("~after", parent) for parent in parents]
    pairs += [("~policy", policy), ("~ttl", str(ttl)), ("~now", now)]
    return tuple(pairs)


def refusal(status: str, key: str) -> Exception | None:
    """The error of a refused gated add ("UNKNOWN:<parent>", "CYCLE:<parent>"),
    else None."""
    kind, _, parent = status.partition(":")
    if kind == "UNKNOWN" and parent:
        return UnknownParent(
            f"cannot add {key!r} after {parent!r}: the docket has no task {parent!r} "
            "(never added, or its record expired)"
        )
    if kind == "CYCLE" and parent:
        return CycleError(
            f"cannot add {key!r} after {parent!r}: {parent!r} waits for {key!r} "
            "(directly or through the tasks it waits for)"
        )
    return None


__all__ = [
    "POLICIES",
    "CycleError",
    "GateStore",
    "GateView",
    "check_policy",
    "decode_gate",
    "gate_fields",
    "refusal",
]
