"""Admission control operations: concurrency slots, debounce, rate limits, cooldowns.

Every decision is one script of ``lua/``, so that many
workers on one Redis agree. Their key names are built in ``docket._keys``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .. import _clock
from .._keys import waiters_key
from .._text import as_text
from . import scripts
from .store import Store

SAFEGUARD_PREFIX = "__safeguard__:"
SAFEGUARD_TASK = "_safeguard_wake"

PROCEED, RESCHEDULE, DROP = 1, 2, 3


@dataclass(frozen=True, slots=True)
class Admission:
    """The outcome of a concurrency admission: acquired, or parked at ``entry_id``."""

    acquired: bool
    entry_id: str = ""
    generation: int = 0


@dataclass(frozen=True, slots=True)
class SlotTimes:
    """The clock values one concurrency decision needs (the worker's clock)."""

    now: float
    redelivery_seconds: float

    @property
    def stale(self) -> float:
        return self.now - self.redelivery_seconds

    @property
    def takeover(self) -> float:
        return self.now - self.redelivery_seconds / 2

    @property
    def ttl_ms(self) -> int:
        return max(1000, int(self.redelivery_seconds * 4000))


class AdmissionStore(Store):
    async def concurrency_acquire(
        self,
        slot_key: str,
        key: str,
        generation: int,
        message_id: bytes | None,
        redelivered: bool,
        max_concurrent: int,
        times: SlotTimes,
        fields: Mapping[bytes, bytes],
    ) -> Admission:
        """Take a slot for a claimed execution, or park its message (see the script)."""
        k = self.keys
        args: list[scripts.Arg] = [
            k.prefix,
            self.group,
            key,
            str(generation),
            message_id or b"",
            "1" if redelivered else "0",
            repr(times.now),
            repr(times.stale),
            repr(times.takeover),
            max_concurrent,
            times.ttl_ms,
        ]
        for name, value in fields.items():
            args += [name, value]
        reply = await self.run_script(
            scripts.CONCURRENCY_ACQUIRE,
            [
                slot_key,
                waiters_key(slot_key),
                k.stream,
                k.queue,
                k.runs(key),
                k.listening,
            ],
            args,
        )
        if int(reply[0]) == 1:
            return Admission(True)
        return Admission(False, as_text(reply[1]), int(reply[2]))

    async def concurrency_release(
        self,
        slot_key: str,
        member: str,
        max_concurrent: int,
        times: SlotTimes,
        parked_key: str = "",
    ) -> tuple[int, bool]:
        """Remove ``member`` (if any) and wake waiters: (woken, parked_key still parked)."""
        k = self.keys
        woken, parked = await self.run_script(
            scripts.CONCURRENCY_RELEASE,
            [slot_key, waiters_key(slot_key), k.stream, k.queue, k.listening],
            [
                k.prefix,
                member,
                repr(times.now),
                repr(times.stale),
                max_concurrent,
                times.ttl_ms,
                parked_key,
            ],
        )
        return int(woken), bool(int(parked))

    async def concurrency_renew(
        self, slot_key: str, member: str, now: float, ttl_ms: int
    ) -> bool:
        reply = await self.run_script(
            scripts.CONCURRENCY_RENEW, [slot_key], [member, repr(now), ttl_ms]
        )
        return bool(int(reply))

    async def concurrency_cleanup(
        self, key: str, mode: str = "cancelled", entry_id: str = ""
    ) -> bool:
        """After a cancel: drop a parked waiter's entry, progress and safeguard.

        With ``mode="safeguard"``: withdraw K's safeguard unless K is still parked
        at ``entry_id``."""
        k = self.keys
        reply = await self.run_script(
            scripts.CONCURRENCY_CANCEL,
            [k.stream, k.queue, k.runs(key), k.progress(key)],
            [k.prefix, key, mode, entry_id],
        )
        return bool(int(reply))

    async def debounce(
        self,
        keys: tuple[str, str],
        key: str,
        now_ms: int,
        settle_ms: int,
        lost_ms: int,
        restore: bool = False,
    ) -> tuple[int, int]:
        """(action, ms): PROCEED, RESCHEDULE after ms, or DROP (see the script)."""
        action, ms = await self.run_script(
            scripts.DEBOUNCE,
            list(keys),
            [
                "restore" if restore else "check",
                key,
                now_ms,
                settle_ms,
                settle_ms * 10,
                lost_ms,
            ],
        )
        return int(action), int(ms)

    async def rate_limit(
        self, limit_key: str, member: str, now_ms: int, per_ms: int, limit: int
    ) -> tuple[int, int]:
        """(PROCEED, 0) with ``member`` recorded, or (RESCHEDULE, retry_after_ms)."""
        action, ms = await self.run_script(
            scripts.RATELIMIT, [limit_key], [member, now_ms, per_ms, limit]
        )
        return (PROCEED, 0) if int(action) == 1 else (RESCHEDULE, int(ms))

    async def rate_limit_release(self, limit_key: str, member: str) -> None:
        await self.client.zrem(limit_key, member)

    async def cooldown(self, window_key: str, token: str, window_ms: int) -> bool:
        """Open the window (or find it opened by this same token); False: drop."""
        reply = await self.run_script(
            scripts.COOLDOWN,
            [window_key],
            ["acquire", token, window_ms, int(_clock.time() * 1000)],
        )
        return bool(int(reply))

    async def cooldown_release(self, window_key: str, token: str) -> None:
        await self.run_script(scripts.COOLDOWN, [window_key], ["release", token, 0, 0])
