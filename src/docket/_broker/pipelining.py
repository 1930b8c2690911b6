"""Auto-pipelining over one held connection: commands of the same moment share a
round trip, and a lone command costs no more than a plain call.

The broker's script calls (and the worker's non-blocking reads) go through one
``AutoPipeline``. While nothing is in flight a call is written at once on the held
connection and its reply read back: no task, no future, no pool look-up. Calls that
arrive while a round trip is in flight queue up; when it returns, one flusher sends
everything queued as one pipeline, then the next batch, and so on. So a thousand
concurrent ``add()`` calls cost a handful of round trips on one connection. A caller
with many calls of its own sends them together (``send_many``: the worker's settle,
claim and read) or as a ``Stream`` of batches written back to back (``add_many``).

The connection comes from the client's pool once and is kept (``aclose`` gives it
back). Commands are packed by hiredis when it is installed. A connection the server
closed while it sat idle is opened again before sending, as redis-py's pool does; a
fault during a round trip retries under the connection's own retry policy (none by
default), as redis-py's own calls do. A cluster client has no single pool: there
every batch goes through its cluster pipeline instead.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError

from .scripts import Script

try:
    from hiredis import pack_command as _hiredis_pack
except ImportError:  # pragma: no cover - hiredis is a dependency
    _hiredis_pack = None

MAX_BATCH = 500

Command = tuple[Any, ...]
# (command, the script it runs or None, the caller's future or None for a direct call)
Call = tuple[Command, "Script | None", "asyncio.Future[Any]"]


def script_command(
    script: Script, keys: Sequence[str], values: Sequence[str | bytes]
) -> Command:
    """The EVALSHA command of ``script`` (its publishing-inline variant)."""
    return ("EVALSHA", script.inline.sha, len(keys), *keys, *values)


class AutoPipeline:
    def __init__(self, client: Any) -> None:
        self._client = client
        self._pool: Any = getattr(client, "connection_pool", None)
        self._connection: Any = None
        self._queue: list[Call] = []
        self._busy = False
        self._flusher: asyncio.Task[None] | None = None

    # ---- calls ------------------------------------------------------------------

    async def call(
        self, script: Script, keys: Sequence[str], values: Sequence[str | bytes]
    ) -> Any:
        """Run ``script`` (loading it when the server does not know it)."""
        return await self.send(script_command(script, keys, values), script)

    async def send(self, command: Command, script: Script | None = None) -> Any:
        """Send one command and return its raw reply (an error reply raises)."""
        if self._busy:
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._queue.append((command, script, future))
            return await future
        self._busy = True
        try:
            (reply,) = await self._round_trip([(command, script)])
        finally:
            self._busy = False
            if self._queue:
                self._start_flusher()
        if isinstance(reply, Exception):
            raise reply
        return reply

    async def send_many(
        self, calls: Sequence[tuple[Command, Script | None]]
    ) -> list[Any]:
        """Send ``calls`` (a command and the script it runs, if any) together and
        return one reply per call, in order; an error reply is returned as its
        exception (it fails that call only). A connection fault raises for all of
        them: which ran is unknown."""
        if self._busy:  # join the queue: the flusher pipelines them
            loop = asyncio.get_running_loop()
            futures: list[asyncio.Future[Any]] = []
            for command, script in calls:
                future = loop.create_future()
                self._queue.append((command, script, future))
                futures.append(future)
            replies = await asyncio.gather(*futures, return_exceptions=True)
            for reply in replies:  # a fault of the whole round trip, not a reply
                if isinstance(reply, BaseException) and not isinstance(
                    reply, ResponseError
                ):
                    raise reply
            return list(replies)
        self._busy = True
        try:
            return await self._round_trip(list(calls))
        finally:
            self._busy = False
            if self._queue:
                self._start_flusher()

    def _start_flusher(self) -> None:
        self._busy = True
        self._flusher = asyncio.ensure_future(self._flush())

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                live = [call for call in batch if not call[2].done()]
                if not live:
                    continue
                try:
                    replies = await self._round_trip([(c, s) for c, s, _ in live])
                except BaseException as error:
                    for _, _, future in live:
                        if not future.done():
                            future.set_exception(error)
                    if not isinstance(error, Exception):
                        raise
                    continue
                for (_, _, future), reply in zip(live, replies, strict=True):
                    if future.done():
                        continue
                    if isinstance(reply, Exception):
                        future.set_exception(reply)
                    else:
                        future.set_result(reply)
        finally:
            self._busy = False

    # ---- streams: batches written back to back --------------------------------

    @asynccontextmanager
    async def stream(self) -> AsyncGenerator[Stream, None]:
        """A ``Stream`` of batches on the held connection; while it is open, calls
        from elsewhere ride along with its batches. When the lane is busy (or on a
        cluster) the stream falls back to one round trip per batch."""
        if self._pool is None or self._busy:
            yield Stream(self, None)
            return
        self._busy = True
        stream = Stream(self, await self._held())
        try:
            yield stream
        except BaseException as error:
            await stream.abandon(error)
            raise
        finally:
            self._busy = False
            if self._queue:
                self._start_flusher()

    def take_queued(self) -> list[Call]:
        """The calls waiting for the lane (a stream sends them with its batch)."""
        queued, self._queue = [c for c in self._queue if not c[2].done()], []
        return queued

    def requeue(self, calls: list[Call]) -> None:
        """Calls to send again once the lane is free (their script is reloaded)."""
        self._queue[:0] = calls

    async def round_trip(
        self, calls: Sequence[tuple[Command, Script | None]]
    ) -> list[Any]:
        """One round trip of ``calls`` (see ``send_many``), for a stream's first
        batch: it loads any script the server does not know."""
        return await self._round_trip(list(calls))

    # ---- the wire ---------------------------------------------------------------

    async def _round_trip(
        self, calls: list[tuple[Command, Script | None]]
    ) -> list[Any]:
        """One reply (or error reply, as an exception value) per call, in order;
        calls whose script the server did not know are loaded and sent again."""
        replies = await self._exchange([command for command, _ in calls])
        missing = [
            i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)
        ]
        if missing:
            scripts = {id(calls[i][1]): calls[i][1] for i in missing}
            loads: list[Command] = [
                ("SCRIPT", "LOAD", script.inline.source)
                for script in scripts.values()
                if script is not None
            ]
            if self._pool is None:  # a cluster client loads on every primary
                for load in loads:
                    await self._client.script_load(load[2])
                loads = []
            again = await self._exchange(
                loads + [calls[i][0] for i in missing], skip=len(loads)
            )
            for i, reply in zip(missing, again, strict=True):
                replies[i] = reply
        return replies

    async def _exchange(self, commands: list[Command], skip: int = 0) -> list[Any]:
        """Send ``commands`` in one write, read every reply; the first ``skip``
        replies are checked (an error raises) and left out of the result."""
        if self._pool is None:  # a cluster client: its pipeline routes by slot
            return await self._cluster_exchange(commands, skip)
        connection = await self._held()
        packed = _pack(connection, commands)

        async def attempt() -> list[Any]:
            if not connection.is_connected:  # a retry after a fault
                await connection.connect()
            await connection.send_packed_command(packed, check_health=False)
            replies: list[Any] = []
            for _ in commands:
                try:
                    replies.append(await connection.read_response())
                except ResponseError as error:  # a reply; the stream stays in step
                    replies.append(error)
            for reply in replies[:skip]:
                if isinstance(reply, Exception):
                    raise reply
            return replies[skip:]

        async def failed(_error: BaseException) -> None:
            await connection.disconnect()

        return await connection.retry.call_with_retry(attempt, failed)

    async def _cluster_exchange(self, commands: list[Command], skip: int) -> list[Any]:
        pipe = self._client.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        replies = list(await pipe.execute(raise_on_error=False))
        for reply in replies[:skip]:
            if isinstance(reply, Exception):
                raise reply
        return replies[skip:]

    async def _held(self) -> Any:
        """The held connection, ready to send: one the server closed while it was
        idle (or that holds a stray reply) is opened again first, as the pool
        itself does before handing a connection out. No system call while it is
        open: this looks at what the event loop has already read."""
        connection = self._connection
        if connection is None:
            connection = self._connection = await self._pool.get_connection()
        elif connection.is_connected:
            try:
                stale = await connection.can_read()
            except (RedisConnectionError, OSError):
                stale = True
            if stale:
                await connection.disconnect()
        if not connection.is_connected:
            # connect() as the pool does (a Sentinel connection asks the Sentinels
            # for the master here; sending would reconnect to the old address).
            await connection.connect()
        return connection

    async def aclose(self) -> None:
        """Give the held connection back to its pool (after the flusher ends)."""
        flusher, self._flusher = self._flusher, None
        if flusher is not None and not flusher.done():
            await asyncio.gather(flusher, return_exceptions=True)
        connection, self._connection = self._connection, None
        if connection is not None:
            await self._pool.release(connection)


def _pack(connection: Any, commands: list[Command]) -> bytes | list[bytes]:
    if _hiredis_pack is not None:
        if len(commands) == 1:
            return _hiredis_pack(commands[0])
        return b"".join([_hiredis_pack(command) for command in commands])
    return connection.pack_commands(commands)


class Stream:
    """Batches written as they are built, their replies read later, in order: the
    caller builds the next batch while Redis runs the ones before. ``write`` sends
    a batch; ``read`` returns the replies of the oldest batch not read yet.

    The first batch goes out as an ordinary round trip (loading its script if the
    server forgot it); should a script be flushed in the middle of a stream, its
    later calls come back as NoScriptError replies (each fails its own call), and
    the calls of others riding along go out again after the stream. A connection
    fault raises: which calls ran is unknown."""

    def __init__(self, autopipeline: AutoPipeline, connection: Any) -> None:
        self._autopipeline = autopipeline
        self._connection = connection
        # Per batch written: (calls, riders, replies already read or None).
        self._written: deque[tuple[int, list[Call], list[Any] | None]] = deque()
        self._started = False

    @property
    def unread(self) -> int:
        """How many batches were written and not read yet."""
        return len(self._written)

    async def write(self, calls: Sequence[tuple[Command, Script | None]]) -> None:
        if self._connection is None:  # no stream: one round trip per batch
            self._written.append(
                (len(calls), [], await self._autopipeline.send_many(calls))
            )
            return
        if not self._started:  # the first batch: an ordinary round trip
            self._started = True
            replies = await self._autopipeline.round_trip(calls)
            self._written.append((len(calls), [], replies))
            return
        riders = self._autopipeline.take_queued()
        commands = [command for command, _ in calls]
        commands += [command for command, _, _ in riders]
        try:
            await self._connection.send_packed_command(
                _pack(self._connection, commands), check_health=False
            )
        except BaseException as error:
            _fail(riders, error)
            raise
        self._written.append((len(calls), riders, None))

    async def read(self) -> list[Any]:
        """The replies of the oldest batch written and not read yet."""
        count, riders, replies = self._written.popleft()
        if replies is not None:
            return replies
        replies = []
        try:
            for _ in range(count + len(riders)):
                try:
                    replies.append(await self._connection.read_response())
                except ResponseError as error:  # a reply; the stream stays in step
                    replies.append(error)
        except BaseException as error:  # the connection broke (and was dropped)
            self._abandon(error, riders)
            raise
        again: list[Call] = []
        for call, reply in zip(riders, replies[count:], strict=True):
            if isinstance(reply, NoScriptError):
                again.append(call)
            elif not call[2].done():
                if isinstance(reply, Exception):
                    call[2].set_exception(reply)
                else:
                    call[2].set_result(reply)
        self._autopipeline.requeue(again)
        return replies[:count]

    async def abandon(self, error: BaseException) -> None:
        """The stream ends early: replies still unread would answer the next caller
        on this connection, so it is dropped; calls riding along fail."""
        if any(replies is None for _, _, replies in self._written):
            await self._connection.disconnect()
        self._abandon(error, [])

    def _abandon(self, error: BaseException, riders: list[Call]) -> None:
        for _, more, _ in self._written:
            riders = riders + more
        self._written.clear()
        _fail(riders, error)


def _fail(calls: list[Call], error: BaseException) -> None:
    """Fail calls whose replies are lost: with the connection error that lost them,
    else (the stream's owner failed, or was cancelled: not their fault) with a
    connection error saying so."""
    if not isinstance(error, RedisConnectionError):
        error = RedisConnectionError(
            "the connection was dropped with this call in flight"
        )
    for _, _, future in calls:
        if not future.done():
            future.set_exception(error)
