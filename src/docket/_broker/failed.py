"""Archive streams (the failed-task archive P:failed, dead letters P:dead):
filtered pages newest first, purges, deletes, and the per-minute throughput counts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from . import scripts
from .base import BrokerBase, is_first_id

Archive = Literal["failed", "dead"]


@dataclass(frozen=True)
class ArchivePage:
    """Entries (stream id, fields) newest first, and where to go on from
    (None when nothing older is left to look at)."""

    entries: list[tuple[str, dict[str, bytes]]]
    cursor: str | None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _filters(filters: Mapping[str, str]) -> list[str]:
    pairs: list[str] = []
    for name, value in filters.items():
        pairs += [name, value]
    return pairs


class ArchiveOps(BrokerBase):
    def _archive_key(self, archive: Archive) -> str:
        return self.keys.failed if archive == "failed" else self.keys.dead

    async def archive_find(
        self,
        archive: Archive,
        count: int,
        budget: int,
        filters: Mapping[str, str],
        cursor: str | None = None,
        oldest_ms: int | None = None,
    ) -> ArchivePage:
        """Up to ``count`` entries matching ``filters`` (field -> exact value),
        newest first, older than ``cursor``, examining at most ``budget``."""
        if cursor is not None and is_first_id(cursor):
            return ArchivePage([], None)  # nothing is older than the first id
        reply = await self.run_script(
            scripts.ARCHIVE_SCAN,
            [self._archive_key(archive)],
            [
                f"({cursor}" if cursor else "+",
                "-" if oldest_ms is None else str(oldest_ms),
                count,
                budget,
                "find",
                *_filters(filters),
            ],
        )
        raw_entries, next_cursor = reply
        entries: list[tuple[str, dict[str, bytes]]] = []
        for entry_id, flat in raw_entries:
            fields = {
                _text(flat[i]): flat[i + 1]
                if isinstance(flat[i + 1], bytes)
                else str(flat[i + 1]).encode()
                for i in range(0, len(flat), 2)
            }
            entries.append((_text(entry_id), fields))
        following = _text(next_cursor)
        return ArchivePage(entries, following[1:] if following else None)

    async def archive_purge(
        self,
        archive: Archive,
        budget: int,
        filters: Mapping[str, str],
        cursor: str | None = None,
        oldest_ms: int | None = None,
    ) -> tuple[int, str | None]:
        """Delete the entries matching ``filters`` among the next ``budget`` older
        than ``cursor``: (how many went, the cursor to go on from or None)."""
        deleted, next_cursor = await self.run_script(
            scripts.ARCHIVE_SCAN,
            [self._archive_key(archive)],
            [
                f"({cursor}" if cursor else "+",
                "-" if oldest_ms is None else str(oldest_ms),
                1,
                budget,
                "purge",
                *_filters(filters),
            ],
        )
        following = _text(next_cursor)
        return int(deleted), following[1:] if following else None

    async def archive_delete(self, archive: Archive, entry_ids: Sequence[str]) -> int:
        if not entry_ids:
            return 0
        return int(await self.client.xdel(self._archive_key(archive), *entry_ids))

    async def archive_clear(self, archive: Archive) -> None:
        await self.client.delete(self._archive_key(archive))

    async def archive_length(self, archive: Archive) -> int:
        return int(await self.client.xlen(self._archive_key(archive)))

    async def throughput(self, minutes: Sequence[int]) -> list[dict[str, int]]:
        """The counts (``<outcome>:<task>`` -> n) of each minute, in one round trip."""
        return await self._counters([self.keys.stats(minute) for minute in minutes])

    async def timings(self, windows: Sequence[int]) -> list[dict[str, int]]:
        """The fields of each ten-minute timing window, in one round trip."""
        return await self._counters([self.keys.timing_window(w) for w in windows])

    async def _counters(self, names: Sequence[str]) -> list[dict[str, int]]:
        if not names:
            return []
        pipe = self.backend.pipeline()
        for name in names:
            pipe.hgetall(name)
        replies = await pipe.execute()
        return [
            {_text(field): int(value) for field, value in reply.items()}
            for reply in replies
        ]
