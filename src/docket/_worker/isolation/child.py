"""An isolated child: runs the task bodies its worker sends, one at a time.

Started by the worker as ``python -m docket._worker.isolation.child IN OUT``
(spawned, never forked) with two pipe descriptors. A reader thread takes the
worker's frames; when the worker's end of the pipe closes without a goodbye
(the worker was killed), the child exits at once, whatever it was running, so
no child outlives its worker.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import sys
import threading
import traceback
from typing import Any

from . import wire
from .standins import Channel

PARENT_GONE_EXIT = 70
# How much lower than its worker a child's CPU priority is.
CHILD_NICENESS = 5


class Child:
    def __init__(self, inbound: int, outbound: int) -> None:
        self.inbound = inbound
        self.channel = Channel(outbound)
        self.frames: queue.Queue[tuple[bytes, bytes] | None] = queue.Queue()
        self.codec = wire.pipe_codec(None, "")
        self.loop: asyncio.AbstractEventLoop | None = None

    def read(self) -> None:
        """The reader thread: frames into the queue; the worker gone -> exit."""
        while True:
            got = wire.read_frame(self.inbound)
            if got is None:
                os._exit(PARENT_GONE_EXIT)  # the worker died: so do we
            self.frames.put(got)
            if got[0] == wire.EXIT:
                return

    def greet(self, body: bytes) -> None:
        hello = json.loads(body)
        key = bytes.fromhex(hello["key"]) if hello["key"] else None
        self.codec = wire.pipe_codec(key, hello["docket"])
        sys.path[:] = hello["path"]
        root = logging.getLogger()
        root.setLevel(hello["level"])
        root.handlers[:] = [self.channel.log_handler()]
        self.channel.codec = self.codec
        self.channel.send(wire.as_json(wire.READY, os.getpid()))

    def serve(self) -> None:
        threading.Thread(
            target=self.read, name="docket-parent-watch", daemon=True
        ).start()
        while True:
            got = self.frames.get()
            if got is None or got[0] == wire.EXIT:
                return
            kind, body = got
            if kind == wire.HELLO:
                self.greet(body)
            elif kind == wire.RUN:
                self.run(body)

    def run(self, body: bytes) -> None:
        limit: int | None = None
        try:
            function, args, kwargs, options = wire.unseal(self.codec, wire.RUN, body)
            limit = options.get("memory_limit")
            with MemoryLimit(limit):
                result = self.call(function, args, kwargs)
            reply = wire.seal(self.codec, wire.DONE, result)
        except BaseException as error:  # noqa: BLE001 (every failure goes back)
            if isinstance(error, KeyboardInterrupt | SystemExit):
                error = RuntimeError(f"the task raised {type(error).__name__}")
            reply = self.failure(error, limit is not None)
        self.channel.send(reply)

    def call(self, function: Any, args: Any, kwargs: Any) -> Any:
        from ..._calling import is_async

        if is_async(function):
            if self.loop is None:
                self.loop = asyncio.new_event_loop()
            return self.loop.run_until_complete(function(*args, **kwargs))
        result = function(*args, **kwargs)
        if asyncio.iscoroutine(result):
            if self.loop is None:
                self.loop = asyncio.new_event_loop()
            return self.loop.run_until_complete(result)
        return result

    def failure(self, error: BaseException, limited: bool) -> bytes:
        text = "".join(traceback.format_exception(error))
        over = limited and isinstance(error, MemoryError)
        try:
            return wire.seal(self.codec, wire.FAIL, error, text, over)
        except Exception:  # an exception that does not pickle: its type and text
            stand_in = RuntimeError(f"{type(error).__name__}: {error}")
            return wire.seal(self.codec, wire.FAIL, stand_in, text, over)


class MemoryLimit:
    """While a task with a memory limit runs, its address space may grow at most
    the limit beyond what the child held when it started (an allocation that
    large fails at once with MemoryError); the worker watches the resident size."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.saved: tuple[int, int] | None = None

    def __enter__(self) -> None:
        if self.limit is None:
            return
        try:
            import resource

            with open("/proc/self/statm") as statm:
                pages = int(statm.read().split()[0])
            size = pages * os.sysconf("SC_PAGE_SIZE")
            self.saved = resource.getrlimit(resource.RLIMIT_AS)
            resource.setrlimit(resource.RLIMIT_AS, (size + self.limit, self.saved[1]))
        except (ImportError, OSError, ValueError):  # not Linux: the watch alone
            self.saved = None

    def __exit__(self, *exc: object) -> None:
        if self.saved is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, self.saved)


def main() -> None:
    inbound, outbound = int(sys.argv[1]), int(sys.argv[2])
    try:  # the worker's own loop (leases, other tasks) comes first for the CPU
        os.nice(CHILD_NICENESS)
    except (AttributeError, OSError):  # pragma: no cover - not on this platform
        pass
    Child(inbound, outbound).serve()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # no interpreter teardown: the worker waits on nothing more


if __name__ == "__main__":
    main()
