"""One isolated child process, as its worker sees it: spawn, greet, call, kill.

The worker writes frames to the child's inbound pipe and a reader task takes
the child's frames from its outbound pipe. A call waits for the child's answer;
when the pipe ends first the child died, and the call fails with ``ChildDied``
naming how (exit code, signal, or the memory limit the worker enforced).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from ..._codec import Codec
from . import wire

logger = logging.getLogger("docket.worker")

# How often the resident size of a child running a task under a memory limit
# is read.
MEMORY_WATCH_INTERVAL = 0.05


class ChildDied(Exception):
    """The isolated child running the task died (or was killed) before it
    answered; ``cause`` is one of ``exit``, ``signal``, ``memory``."""

    def __init__(self, text: str, cause: str = "exit") -> None:
        super().__init__(text)
        self.cause = cause
        self.idle = False  # it died before the call was sent

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.cause))


class ChildTraceback(Exception):
    """The traceback of an exception raised in an isolated child, as text (the
    ``__cause__`` of the exception re-raised in the worker)."""

    def __str__(self) -> str:
        return "\n" + str(self.args[0]) if self.args else ""


Handler = Callable[[bytes, Any], None]


class Process:
    """One child process; calls are one at a time (its pool hands it out)."""

    def __init__(self, pool: str, docket: str, signing: bool) -> None:
        self.pool = pool
        self.key = secrets.token_bytes(32) if signing else None
        self.codec: Codec = wire.pipe_codec(self.key, docket)
        self.docket = docket
        self.process: asyncio.subprocess.Process | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.ready = asyncio.get_running_loop().create_future()
        self.answer: asyncio.Future[tuple[bytes, bytes]] | None = None
        self.on_update: Handler | None = None
        self.reading: asyncio.Task[None] | None = None
        self.calls = 0
        self.killed_for: str | None = None  # "memory", "timeout", "cancelled", ...
        self.gone = asyncio.get_running_loop().create_future()

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "docket._worker.isolation.child",
                str(to_child_r),
                str(from_child_w),
                pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL,
            )
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        reader = asyncio.StreamReader(limit=2**31)
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(from_child_r, "rb")
        )
        transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, os.fdopen(to_child_w, "wb")
        )
        self.writer = asyncio.StreamWriter(transport, protocol, None, loop)
        self.reading = asyncio.ensure_future(self._read(reader))
        hello = {
            "key": self.key.hex() if self.key else None,
            "docket": self.docket,
            "path": list(sys.path),
            "level": logging.getLogger().getEffectiveLevel(),
        }
        self.writer.write(wire.as_json(wire.HELLO, hello))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                head = await reader.readexactly(4)
                body = await reader.readexactly(int.from_bytes(head, "big"))
                kind, rest = body[:1], body[1:]
                if kind == wire.READY:
                    if not self.ready.done():
                        self.ready.set_result(None)
                elif kind in (wire.DONE, wire.FAIL):
                    if self.answer is not None and not self.answer.done():
                        self.answer.set_result((kind, rest))
                elif self.on_update is not None:
                    try:
                        self.on_update(kind, json.loads(rest))
                    except Exception as error:  # never the end of the reader
                        logger.warning(
                            "Could not apply an isolated child's update: %s", error
                        )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            await self._reap()

    async def _reap(self) -> None:
        """The pipe ended: the child is gone (or going); fail what waits."""
        process = self.process
        code = await process.wait() if process is not None else 0
        error = self.death(code)
        for waiting in (self.ready, self.answer):
            if waiting is not None and not waiting.done():
                waiting.set_exception(error)
        if not self.gone.done():
            self.gone.set_result(error.cause if error else "exit")

    def death(self, code: int) -> ChildDied:
        """What a child that ended with ``code`` died of."""
        where = f"isolated child process {self.pid} (pool {self.pool!r})"
        if self.killed_for == "memory":
            return ChildDied(
                f"{where} exceeded its memory limit and was killed", "memory"
            )
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return ChildDied(f"{where} was killed by {name}", "signal")
        return ChildDied(f"{where} exited with code {code}", "exit")

    async def call(self, payload: tuple[Any, ...], on_update: Handler) -> Any:
        """Send one call and wait for its answer (raises what the body raised)."""
        assert self.writer is not None
        if self.gone.done():  # died idle, after it was handed out
            died = self.death(self.process.returncode or 0 if self.process else 0)
            died.idle = True  # (counted as its pool saw it go)
            raise died
        self.answer = asyncio.get_running_loop().create_future()
        self.on_update = on_update
        self.calls += 1
        self.writer.write(wire.seal(self.codec, wire.RUN, *payload))
        await self.writer.drain()
        kind, body = await self.answer
        self.answer, self.on_update = None, None
        if kind == wire.DONE:
            return wire.unseal(self.codec, kind, body)[0]
        error, text, over_limit = wire.unseal(self.codec, kind, body)
        if over_limit:
            self.killed_for = "memory"
            self.kill()
            raise ChildDied(
                f"isolated child process {self.pid} (pool {self.pool!r}) exceeded "
                f"its memory limit (MemoryError)",
                "memory",
            ) from ChildTraceback(text)
        raise error from ChildTraceback(text)

    def kill(self, reason: str | None = None) -> None:
        if reason is not None and self.killed_for is None:
            self.killed_for = reason
        process = self.process
        if process is not None and process.returncode is None:
            try:
                process.kill()
            except ProcessLookupError:  # pragma: no cover - already reaped
                pass

    async def retire(self, grace: float) -> None:
        """Ask the child to exit; kill it if it has not within ``grace`` seconds."""
        if self.writer is not None and not self.writer.is_closing():
            try:
                self.writer.write(wire.frame(wire.EXIT, b""))
                self.writer.close()
            except (ConnectionError, RuntimeError):
                pass
        try:
            await asyncio.wait_for(asyncio.shield(self.gone), grace)
        except asyncio.TimeoutError:
            self.kill("retired")
            await asyncio.shield(self.gone)
        if self.reading is not None:
            await asyncio.shield(self.reading)

    def resident_bytes(self) -> int | None:
        try:
            with open(f"/proc/{self.pid}/statm") as statm:
                return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return None
