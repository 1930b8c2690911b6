"""The strike log: ``P:strikes``, a stream of strike and restore instructions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._text import as_text
from .store import Store

StrikeEntry = tuple[str, Mapping[Any, Any]]


def _xread_entries(response: Any) -> list[StrikeEntry]:
    """Flatten an XREAD reply (RESP2 list or RESP3 dict form) into (id, fields)."""
    streams = (response.items() if isinstance(response, Mapping) else response) or ()
    flat: list[StrikeEntry] = []
    for _stream, entries in streams:
        if (
            entries
            and isinstance(entries[0], list)
            and isinstance(entries[0][0], (list, tuple))
        ):
            entries = entries[0]  # RESP3 nests the entries one level deeper
        flat.extend((as_text(message_id), fields) for message_id, fields in entries)
    return flat


class StrikeStore(Store):
    async def append(self, fields: Mapping[Any, Any]) -> str:
        """Append one instruction to the strike log; returns its entry id."""
        return as_text(await self.client.xadd(self.keys.strikes, dict(fields)))

    async def range(self, after: str, until: str) -> list[StrikeEntry]:
        """The log's entries from ``after`` (inclusive) up to ``until``."""
        entries = await self.client.xrange(self.keys.strikes, min=after, max=until)
        return [(as_text(message_id), fields) for message_id, fields in entries]

    async def read(
        self, after: str, count: int, block_ms: int | None
    ) -> list[StrikeEntry]:
        """Entries newer than ``after``; waits up to ``block_ms`` when given."""
        options: dict[str, Any] = {"count": count}
        if block_ms:
            options["block"] = block_ms
        reply = await self.client.xread({self.keys.strikes: after}, **options)
        return _xread_entries(reply)
