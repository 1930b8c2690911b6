"""Reading the gates of workflows: what a task added with ``after=`` waits for,
and which tasks wait for a key. Every change to a gate happens inside the scripts
that start and end runs (``lua/_gates.lua``); this store only reads."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Store

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


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def decode_gate(raw: dict[bytes, bytes] | dict[str, str]) -> GateView | None:
    """A gate hash decoded (None when there is none)."""
    if not raw:
        return None
    fields = {_text(k): _text(v) for k, v in raw.items()}
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
        return sorted(_text(m) for m in members)


__all__ = ["GateStore", "GateView", "decode_gate"]
