"""State and progress events, the listening flag, and progress writes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .base import BrokerBase


LISTENING_RECHECK = 1.0


class EventOps(BrokerBase):
    _listening: bool = False
    _listening_checked: float = float("-inf")

    async def mark_listening(self, ttl_seconds: int) -> None:
        """Ask every producer and worker to publish state and progress events for a while."""
        await self.client.set(self.keys.listening, b"1", ex=ttl_seconds)
        self._note_listening(1)

    def _publish_mode(self) -> str:
        """How schedule.lua decides to publish: "1"/"0" from a recent answer, else "?".

        Producers ask Redis whether anyone listens at most once a second, so an add
        costs no extra command. A subscriber always syncs after subscribing, so an
        add event skipped in that second hides no state from it."""
        now = time.monotonic()
        if now - self._listening_checked < LISTENING_RECHECK:
            return "1" if self._listening else "0"
        self._listening_checked = now
        return "?"

    def _note_listening(self, answer: int) -> None:
        if answer >= 0:
            self._listening = answer == 1
            self._listening_checked = time.monotonic()

    async def publish(self, channel: str, payload: str) -> None:
        await self.client.publish(channel, payload)

    async def progress_record(self, key: str) -> dict[bytes, bytes]:
        return await self.client.hgetall(self.keys.progress(key))

    async def write_progress(
        self,
        key: str,
        fields: dict[str, Any],
        event: str | None,
        delete_message: bool = False,
        increment: int = 0,
    ) -> int | None:
        """Update the progress hash (optionally HINCRBY current) and publish ``event``.

        Returns the new ``current`` when incrementing."""
        hash_key = self.keys.progress(key)
        pipe = self.client.pipeline()
        if increment:
            pipe.hincrby(hash_key, "current", increment)
        if fields:
            pipe.hset(hash_key, mapping={k: str(v) for k, v in fields.items()})
        if delete_message:
            pipe.hdel(hash_key, "message")
        replies = await pipe.execute()
        if event is not None:
            await self.client.publish(self.keys.progress_channel(key), event)
        return int(replies[0]) if increment else None

    def subscriber(self) -> Any:
        return self.backend.pubsub()


class Subscription:
    """Payloads published on some channels, from the moment ``open()`` returns.

    The listening flag is set before subscribing and refreshed while listening, so
    producers and workers publish the events this subscriber waits for.
    """

    def __init__(self, ops: EventOps, channels: list[str], flag_ttl: int = 60) -> None:
        self._ops = ops
        self._channels = channels
        self._flag_ttl = flag_ttl
        self._pubsub: Any = None
        self._refreshed = 0.0

    async def open(self) -> None:
        await self._ops.mark_listening(self._flag_ttl)
        self._refreshed = time.monotonic()
        self._pubsub = self._ops.subscriber()
        await self._pubsub.subscribe(*self._channels)
        confirmed = 0
        while confirmed < len(self._channels):
            message = await self._pubsub.get_message(timeout=1.0)
            if message is not None and message["type"] == "subscribe":
                confirmed += 1

    async def next(self) -> str:
        """The next payload (waits as long as it takes)."""
        while True:
            message = await self._pubsub.get_message(
                ignore_subscribe_messages=True, timeout=1.0
            )
            if time.monotonic() - self._refreshed > self._flag_ttl / 3:
                await self._ops.mark_listening(self._flag_ttl)
                self._refreshed = time.monotonic()
            if message is None or message["type"] != "message":
                await asyncio.sleep(0)
                continue
            data = message["data"]
            return data.decode() if isinstance(data, bytes) else data

    async def close(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is None:
            return
        try:
            await pubsub.unsubscribe()
        finally:
            await pubsub.aclose()

    async def __aenter__(self) -> Subscription:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
