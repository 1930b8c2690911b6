"""The failed tasks (``P:failed``): filtered pages newest first, purges, deletes.

A task whose last attempt failed is kept here by settle.lua (bounded by
``failed_limit`` entries and ``failed_retention``), to be looked at, replayed or
purged (``docket.failed_tasks``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .._text import as_text
from . import scripts
from .store import Store, is_first_id


@dataclass(frozen=True)
class FailedPage:
    """Entries (stream id, fields) newest first, and where to go on from
    (None when nothing older is left to look at)."""

    entries: list[tuple[str, dict[str, bytes]]]
    cursor: str | None


def _filters(filters: Mapping[str, str]) -> list[str]:
    pairs: list[str] = []
    for name, value in filters.items():
        pairs += [name, value]
    return pairs


class FailedStore(Store):
    async def find(
        self,
        count: int,
        budget: int,
        filters: Mapping[str, str],
        cursor: str | None = None,
        oldest_ms: int | None = None,
    ) -> FailedPage:
        """Up to ``count`` entries matching ``filters`` (field -> exact value),
        newest first, older than ``cursor``, examining at most ``budget``."""
        if cursor is not None and is_first_id(cursor):
            return FailedPage([], None)  # nothing is older than the first id
        reply = await self.run_script(
            scripts.SCAN_FAILED,
            [self.keys.failed],
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
                as_text(flat[i]): flat[i + 1]
                if isinstance(flat[i + 1], bytes)
                else str(flat[i + 1]).encode()
                for i in range(0, len(flat), 2)
            }
            entries.append((as_text(entry_id), fields))
        following = as_text(next_cursor)
        return FailedPage(entries, following[1:] if following else None)

    async def purge(
        self,
        budget: int,
        filters: Mapping[str, str],
        cursor: str | None = None,
        oldest_ms: int | None = None,
    ) -> tuple[int, str | None]:
        """Delete the entries matching ``filters`` among the next ``budget`` older
        than ``cursor``: (how many went, the cursor to go on from or None)."""
        deleted, next_cursor = await self.run_script(
            scripts.SCAN_FAILED,
            [self.keys.failed],
            [
                f"({cursor}" if cursor else "+",
                "-" if oldest_ms is None else str(oldest_ms),
                1,
                budget,
                "purge",
                *_filters(filters),
            ],
        )
        following = as_text(next_cursor)
        return int(deleted), following[1:] if following else None

    async def delete(self, entry_ids: Sequence[str]) -> int:
        if not entry_ids:
            return 0
        return int(await self.client.xdel(self.keys.failed, *entry_ids))

    async def clear(self) -> None:
        await self.client.delete(self.keys.failed)

    async def count(self) -> int:
        return int(await self.client.xlen(self.keys.failed))
