"""One event loop per process for Django's callers: ``enqueue`` and
``get_result`` are called from synchronous views, threads and other event
loops, while a Docket belongs to the loop it was opened on. The portal runs a
loop in a daemon thread, opens each Docket there once and keeps it open for the
process's life; callers hand it coroutines and wait (or await) their outcome.

A forked child (a pre-forking server) starts its own loop and Dockets on first
use: the parent's connections are never shared."""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import os
import threading
from collections.abc import Callable, Coroutine, Hashable
from contextlib import AsyncExitStack
from typing import Any, TypeVar

from docket import Docket

T = TypeVar("T")

# How long closing at exit may take (the Dockets' connections).
CLOSE_SECONDS = 5.0


class Portal:
    """The process's loop thread and the Dockets opened on it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._dockets: dict[Hashable, asyncio.Task[Docket]] = {}
        self._stack: AsyncExitStack | None = None
        self._registered = False

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                self._start()
            assert self._loop is not None
            return self._loop

    def _start(self) -> None:
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        thread = threading.Thread(target=run, name="docket-django-portal", daemon=True)
        thread.start()
        ready.wait()
        self._loop, self._thread, self._pid = loop, thread, os.getpid()
        self._dockets, self._stack = {}, None
        if not self._registered:
            self._registered = True
            atexit.register(self.close)

    def in_portal(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def submit(self, work: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(work, self._running_loop())

    def call(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the portal's loop and wait for its outcome."""
        if self.in_portal():
            work.close()
            raise RuntimeError("A blocking Docket call from the portal's own loop")
        return self.submit(work).result()

    async def acall(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the portal's loop; the caller's loop keeps running."""
        if self.in_portal():
            return await work
        return await asyncio.wrap_future(self.submit(work))

    async def docket(self, key: Hashable, make: Callable[[], Docket]) -> Docket:
        """The open Docket for ``key`` (opened now, once, on the portal's loop).
        A failed opening is forgotten, so the next call tries again."""
        opening = self._dockets.get(key)
        if opening is None or (opening.done() and opening.exception() is not None):
            opening = asyncio.ensure_future(self._open(make))
            self._dockets[key] = opening
        try:
            return await asyncio.shield(opening)
        except BaseException:
            if opening.done() and not opening.cancelled() and opening.exception():
                self._dockets.pop(key, None)
            raise

    async def _open(self, make: Callable[[], Docket]) -> Docket:
        if self._stack is None:
            self._stack = AsyncExitStack()
        docket = make()
        await docket.__aenter__()
        self._stack.push_async_exit(docket)
        return docket

    async def _close_all(self) -> None:
        stack, self._stack = self._stack, None
        self._dockets = {}
        if stack is not None:
            await stack.aclose()

    def close(self) -> None:
        """Close every Docket and stop the loop (at exit, or for a test)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            if loop is None or thread is None or self._pid != os.getpid():
                self._loop = self._thread = None
                return
            self._loop = self._thread = None
        try:
            asyncio.run_coroutine_threadsafe(self._close_all(), loop).result(
                CLOSE_SECONDS
            )
        except Exception:  # closing at exit, or a Redis already gone: nothing to do
            pass
        loop.call_soon_threadsafe(loop.stop)
        thread.join(CLOSE_SECONDS)
        if not thread.is_alive():
            loop.close()


portal = Portal()

__all__ = ["Portal", "portal"]
