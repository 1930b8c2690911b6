"""State and progress events, the listening flag, and progress writes."""

from __future__ import annotations

from typing import Any

from .base import BrokerBase


class EventOps(BrokerBase):
    async def mark_listening(self, ttl_seconds: int) -> None:
        """Ask every producer and worker to publish state and progress events for a while."""
        await self.client.set(self.keys.listening, b"1", ex=ttl_seconds)

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
            pipe.hset(hash_key, mapping=fields)
        if delete_message:
            pipe.hdel(hash_key, "message")
        replies = await pipe.execute()
        if event is not None:
            await self.client.publish(self.keys.progress_channel(key), event)
        return int(replies[0]) if increment else None

    def subscriber(self) -> Any:
        return self.backend.pubsub()


async def listen(
    ops: EventOps, channels: list[str], ready: Any = None, flag_ttl: int = 60
) -> Any:
    """Yield the payloads (str) published on ``channels``, subscribing first.

    The listening flag is set before subscribing and refreshed while listening,
    so every producer and worker publishes the events this subscriber waits for.
    """
    import asyncio
    import time

    await ops.mark_listening(flag_ttl)
    refreshed = time.monotonic()
    pubsub = ops.subscriber()
    try:
        await pubsub.subscribe(*channels)
        confirmed = 0
        while confirmed < len(channels):
            message = await pubsub.get_message(timeout=1.0)
            if message is not None and message["type"] == "subscribe":
                confirmed += 1
        if ready is not None:
            ready.set()
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if time.monotonic() - refreshed > flag_ttl / 3:
                await ops.mark_listening(flag_ttl)
                refreshed = time.monotonic()
            if message is None or message["type"] != "message":
                await asyncio.sleep(0)
                continue
            data = message["data"]
            yield data.decode() if isinstance(data, bytes) else data
    finally:
        try:
            await pubsub.unsubscribe()
        finally:
            await pubsub.aclose()
