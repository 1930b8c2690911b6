"""The dead-letter stream ``P:dead``: messages that must never run, and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import _codec
from . import scripts
from .base import BrokerBase, is_first_id
from .runs import pack


@dataclass(frozen=True, slots=True)
class Rejection:
    """A delivered message that must not run: dead-letter it with this reason."""

    message_id: bytes
    reason: str  # a short category: malformed-message, unverified-payload, ...
    detail: str  # what exactly was wrong, for people


@dataclass(frozen=True, slots=True)
class DeadEntry:
    """One entry of P:dead: the message's original fields and the reason."""

    entry_id: str
    fields: dict[bytes, bytes]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _pairs(fields: Any) -> dict[bytes, bytes]:
    """A stream entry's fields: a dict already, or a flat [name, value, ...] list."""
    if isinstance(fields, dict):
        return dict(fields)  # pyright: ignore[reportUnknownArgumentType]
    items = list(fields)
    return {items[i]: items[i + 1] for i in range(0, len(items), 2)}


class DeadLetterOps(BrokerBase):
    async def dead_letter(
        self,
        rejections: Sequence[Rejection],
        worker: str,
        ttl_seconds: int,
        limit: int,
    ) -> int:
        """Copy the messages to P:dead with their reasons, acknowledge and delete
        them, and fail their run records; returns how many were moved."""
        if not rejections:
            return 0
        packed = pack((r.message_id, r.reason, r.detail) for r in rejections)
        k = self.keys
        args: list[scripts.Arg] = [
            k.prefix,
            self.group,
            limit,
            worker,
            _codec.iso(_codec.now()),
            ttl_seconds,
            packed,
            self.archive_ttl,
        ]
        moved = await self.run_script(
            scripts.DEAD_LETTER, [k.stream, k.dead, k.listening], args
        )
        return int(moved)

    async def dead_entries(
        self, count: int, before: str | None = None
    ) -> list[DeadEntry]:
        """Up to ``count`` entries, newest first, older than ``before`` if given."""
        if before is not None and is_first_id(before):
            return []  # nothing is older than the first id
        top = "+" if before is None else f"({before}"
        reply = await self.run_script(scripts.DEAD_PAGE, [self.keys.dead], [top, count])
        return [
            DeadEntry(_text(entry_id), _pairs(fields)) for entry_id, fields in reply
        ]

    async def dead_entry(self, entry_id: str) -> DeadEntry | None:
        reply = await self.client.xrange(self.keys.dead, entry_id, entry_id)
        if not reply:
            return None
        entry, fields = reply[0]
        return DeadEntry(_text(entry), _pairs(fields))

    async def dead_count(self) -> int:
        return int(await self.client.xlen(self.keys.dead))

    async def delete_dead(self, entry_ids: Sequence[str]) -> int:
        """Remove these entries; returns how many existed."""
        if not entry_ids:
            return 0
        return int(await self.client.xdel(self.keys.dead, *entry_ids))

    async def purge_dead(self) -> int:
        """Remove every entry; returns how many there were."""
        count = await self.dead_count()
        await self.client.delete(self.keys.dead)
        return count
