"""The producer: adds tasks with explicit keys at a steady rate, and keeps at each
key through any fault until Redis confirms it."""

from __future__ import annotations

import asyncio
import time

from redis.exceptions import RedisError

from docket import Docket
from tests.chaos.tasks import work


class Producer:
    """Adds ``work(seconds)`` under ``{prefix}-00000``, ``{prefix}-00001``, ...

    An add that fails (connection lost, OOM, timeout) is retried with the same
    key; before a retry the producer asks whether the key's run record exists, so
    an add whose reply was lost is not added twice (a finished task's record
    outlives it, so re-adding it would run it again). ``confirmed`` maps each key
    to the monotonic time Redis accepted it.
    """

    def __init__(
        self, docket: Docket, prefix: str, count: int, seconds: float, rate: float
    ) -> None:
        self.docket = docket
        self.keys = [f"{prefix}-{i:05d}" for i in range(count)]
        self.seconds = seconds
        self.rate = rate
        self.confirmed: dict[str, float] = {}
        self.refusals: list[str] = []  # one line per failed attempt
        self.gave_up: list[str] = []

    async def run(self, patience: float) -> None:
        """Add every key, paced at ``rate`` per second; give up on a key only after
        ``patience`` seconds of failures."""
        begun = time.monotonic()
        for index, key in enumerate(self.keys):
            due = begun + index / self.rate
            if due > time.monotonic():
                await asyncio.sleep(due - time.monotonic())  # pacing, not syncing
            await self.add(key, patience)

    async def add(self, key: str, patience: float) -> bool:
        give_up = time.monotonic() + patience
        attempt = 0
        while True:
            try:
                if attempt == 0 or not await self._exists(key):
                    await self.docket.add(work, key=key)(self.seconds)
                self.confirmed[key] = time.monotonic()
                return True
            except (RedisError, OSError) as error:
                attempt += 1
                self.refusals.append(f"{type(error).__name__}: {error}")
                if time.monotonic() > give_up:
                    self.gave_up.append(key)
                    return False
                await asyncio.sleep(min(0.02 * attempt, 0.25))  # retry backoff

    async def _exists(self, key: str) -> bool:
        async with self.docket.redis() as client:
            return bool(await client.exists(self.docket.runs_key(key)))

    def confirmed_between(self, low: float, high: float = float("inf")) -> set[str]:
        return {k for k, at in self.confirmed.items() if low <= at < high}
