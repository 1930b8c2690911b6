"""State and progress events, the listening flag, and progress writes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from .._defaults import LISTENING_FLAG_TTL
from .store import Store


class EventStore(Store):
    async def mark_listening(self, ttl_seconds: int) -> None:
        """Ask every producer and worker to publish state and progress events for a while."""
        await self.client.set(self.keys.listening, b"1", ex=ttl_seconds)
        self.shared.note_listening(1)

    async def publish(self, channel: str, payload: str) -> None:
        await self.client.publish(channel, payload)

    async def progress_record(self, key: str) -> dict[bytes, bytes]:
        return await self.client.hgetall(self.keys.progress(key))

    async def write_progress(
        self,
        key: str,
        fields: dict[str, Any],
        delete_message: bool = False,
        increment: int = 0,
    ) -> tuple[int | None, bool]:
        """Update the progress hash (optionally HINCRBY current) in one round trip.

        Returns (the new ``current`` when incrementing, whether anyone listens for
        the progress event, which the caller then publishes)."""
        hash_key = self.keys.progress(key)
        mode = self.shared.publish_mode()
        pipe = self.backend.pipeline()
        if increment:
            pipe.hincrby(hash_key, "current", increment)
        if fields:
            pipe.hset(hash_key, mapping={k: str(v) for k, v in fields.items()})
        if delete_message:
            pipe.hdel(hash_key, "message")
        if mode == "?":
            pipe.exists(self.keys.listening)
        replies = await pipe.execute()
        if mode == "?":
            self.shared.note_listening(int(replies[-1]))
            listening = bool(replies[-1])
        else:
            listening = mode == "1"
        return (int(replies[0]) if increment else None), listening

    def subscriber(self) -> Any:
        return self.backend.pubsub()

    def subscription(self, channels: list[str]) -> Subscription:
        """The payloads published on ``channels`` (use as ``async with``)."""
        return Subscription(self, channels)


class Subscription:
    """Payloads published on some channels, from the moment ``open()`` returns.

    The listening flag is set before subscribing and refreshed while listening, so
    producers and workers publish the events this subscriber waits for.
    """

    def __init__(
        self,
        ops: EventStore,
        channels: list[str],
        flag_ttl: int = int(LISTENING_FLAG_TTL.total_seconds()),
    ) -> None:
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
