"""The built-in result store's reads and writes (``P:results:K``)."""

from __future__ import annotations

from .base import BrokerBase


class ResultOps(BrokerBase):
    async def read_result(self, key: str) -> bytes | None:
        """The stored result document of ``key`` (JSON text), if any."""
        return await self.client.get(self.keys.result(key))

    async def write_result(
        self, key: str, document: str, ttl_seconds: int | None
    ) -> None:
        """Store ``document`` for ``key``, expiring after ``ttl_seconds``."""
        await self.client.set(self.keys.result(key), document, ex=ttl_seconds)
