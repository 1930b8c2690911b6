"""The dead-letter stream ``P:dead``: messages that must never run, and why."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import _codec
from .._text import as_text
from . import scripts
from .runs import pack
from .store import Store, is_first_id


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


def _pairs(fields: Any) -> dict[bytes, bytes]:
    """A stream entry's fields: a dict already, or a flat [name, value, ...] list."""
    if isinstance(fields, dict):
        return dict(fields)  # pyright: ignore[reportUnknownArgumentType]
    items = list(fields)
    return {items[i]: items[i + 1] for i in range(0, len(items), 2)}


class DeadStore(Store):
    async def add(
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
            self.shared.retention_ttl,
        ]
        moved = await self.run_script(
            scripts.DEAD_LETTER, [k.stream, k.dead, k.listening], args
        )
        return int(moved)

    async def entries(self, count: int, before: str | None = None) -> list[DeadEntry]:
        """Up to ``count`` entries, newest first, older than ``before`` if given."""
        if before is not None and is_first_id(before):
            return []  # nothing is older than the first id
        top = "+" if before is None else f"({before}"
        reply = await self.run_script(scripts.DEAD_PAGE, [self.keys.dead], [top, count])
        return [
            DeadEntry(as_text(entry_id), _pairs(fields)) for entry_id, fields in reply
        ]

    async def find(
        self,
        count: int,
        budget: int,
        parts: Mapping[str, str],
        before: str | None = None,
    ) -> tuple[list[DeadEntry], str | None]:
        """Up to ``count`` entries whose fields contain the ``parts`` given
        (field -> part of its value), newest first, older than ``before``,
        examining at most ``budget``: (the entries, the cursor to go on from,
        None at the end). The failed tasks' scan script, on this stream."""
        if before is not None and is_first_id(before):
            return [], None
        filters: list[str] = []
        for name, part in parts.items():
            filters += [f"~{name}", part]
        found, following = await self.run_script(
            scripts.SCAN_FAILED,
            [self.keys.dead],
            ["+" if before is None else f"({before}", "-", count, budget, "find"]
            + filters,
        )
        entries = [
            DeadEntry(as_text(entry_id), _pairs(fields)) for entry_id, fields in found
        ]
        cursor = as_text(following)
        return entries, cursor[1:] if cursor else None

    async def entry(self, entry_id: str) -> DeadEntry | None:
        reply = await self.client.xrange(self.keys.dead, entry_id, entry_id)
        if not reply:
            return None
        entry, fields = reply[0]
        return DeadEntry(as_text(entry), _pairs(fields))

    async def count(self) -> int:
        return int(await self.client.xlen(self.keys.dead))

    async def delete(self, entry_ids: Sequence[str]) -> int:
        """Remove these entries; returns how many existed."""
        if not entry_ids:
            return 0
        return int(await self.client.xdel(self.keys.dead, *entry_ids))

    async def purge(self) -> int:
        """Remove every entry; returns how many there were."""
        count = await self.count()
        await self.client.delete(self.keys.dead)
        return count
