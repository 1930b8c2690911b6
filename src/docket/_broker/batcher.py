"""Auto-pipelining: script calls made in the same moment share one round trip.

Every caller enqueues its call and awaits a future; one flusher sends everything
queued as a single non-transactional pipeline, then the next batch, and so on. So
a thousand concurrent ``add()`` calls cost a handful of round trips and one pool
connection, never a connection each (redis-py's pool holds 100 by default).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.exceptions import NoScriptError

from .scripts import Script

MAX_BATCH = 500

Call = tuple[Script, Sequence[str], list[str | bytes], "asyncio.Future[Any]"]


class Batcher:
    def __init__(self, client: Any) -> None:
        self._client = client
        self._queue: list[Call] = []
        self._flushing: asyncio.Future[None] | None = None

    async def call(
        self, script: Script, keys: Sequence[str], values: list[str | bytes]
    ) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((script, keys, values, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.ensure_future(self._flush())
        return await future

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let every caller of this moment join the batch
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            live = [call for call in batch if not call[3].cancelled()]
            try:
                await self._send(live)
            except BaseException as error:
                for *_, future in live:
                    if not future.done():
                        future.set_exception(error)
                if not isinstance(error, Exception):
                    raise

    async def _send(self, batch: list[Call]) -> None:
        if len(batch) == 1:
            script, keys, values, future = batch[0]
            result = await script.call_inline(self._client, keys, values)
            if not future.done():
                future.set_result(result)
            return
        pipe = self._client.pipeline(transaction=False)
        for script, keys, values, _ in batch:
            # execute_command, not pipe.evalsha: cluster pipelines block the latter
            pipe.execute_command(
                "EVALSHA", script.inline.sha, len(keys), *keys, *values
            )
        replies = await pipe.execute(raise_on_error=False)
        for (script, keys, values, future), reply in zip(batch, replies, strict=True):
            if isinstance(reply, NoScriptError):
                try:
                    reply = await script.call_inline(self._client, keys, values)
                except Exception as error:
                    reply = error
            if future.done():
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)
