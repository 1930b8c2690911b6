"""The per-minute throughput counts (``P:stats:<minute>``) and the ten-minute
timing windows (``P:stats:window:<epoch>``) settle.lua keeps, read back."""

from __future__ import annotations

from collections.abc import Sequence

from .._text import as_text
from .store import Store


class StatsStore(Store):
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
            {as_text(field): int(value) for field, value in reply.items()}
            for reply in replies
        ]
