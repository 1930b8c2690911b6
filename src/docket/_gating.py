"""What a gated add (``after=``) sends to schedule.lua and what its refusals mean.

A cycle is refused with ``docket.CycleError`` (the dependency engine's, which the
public API already names), so one ``except CycleError`` covers both kinds.

The gate itself lives in Redis (``_broker/lua/_gates.lua``); this module only
packs its "~" pairs and turns a refusal status into the exception a caller sees."""

from __future__ import annotations

from uncalled_for import CycleError

from ._errors import UnknownParent

POLICIES = ("cancel", "run")


def check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise ValueError(f"on_parent_failure must be 'cancel' or 'run', got {policy!r}")
    return policy


def gate_fields(
    parents: tuple[str, ...], policy: str, ttl: int, now: str
) -> tuple[tuple[str, str], ...]:
    """The "~" pairs of a gated schedule.lua call (see its header)."""
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


__all__ = ["POLICIES", "CycleError", "check_policy", "gate_fields", "refusal"]
