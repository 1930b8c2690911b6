"""A named pool of isolated children: started ahead of need, replaced as they
retire (after ``max_tasks_per_child`` calls) or die, shut down with the session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from .process import MEMORY_WATCH_INTERVAL, ChildDied, Handler, Process

logger = logging.getLogger("docket.worker")

# How long a retiring child may take to exit before it is killed.
RETIRE_GRACE = 5.0
# The longest wait between attempts to start a child that keeps failing to start.
START_BACKOFF_CAP = 5.0

Observer = Callable[[str, str], None]  # (pool, event) for the metrics


class Pool:
    def __init__(
        self,
        name: str,
        size: int,
        max_tasks: int,
        docket: str,
        signing: bool,
        observe: Observer,
    ) -> None:
        self.name = name
        self.size = size
        self.max_tasks = max_tasks
        self.docket = docket
        self.signing = signing
        self.observe = observe
        self.idle: asyncio.Queue[Process] = asyncio.Queue()
        self.children: set[Process] = set()
        self.closing = False
        self.starting: set[asyncio.Task[None]] = set()
        self.retiring: set[asyncio.Task[None]] = set()
        self.spawned: set[Process] = set()  # until its pipe is read to the end
        self.failures = 0
        self.announced = False  # the INFO line once the pool is first full

    @property
    def alive(self) -> int:
        return len(self.children)

    def fill(self) -> None:
        """Start children until the pool has ``size`` (started or starting)."""
        while not self.closing and len(self.children) + len(self.starting) < self.size:
            task = asyncio.ensure_future(self._start_one())
            self.starting.add(task)
            task.add_done_callback(self.starting.discard)

    async def _start_one(self) -> None:
        if self.failures:
            await asyncio.sleep(min(START_BACKOFF_CAP, 0.1 * 2**self.failures))
        child = Process(self.name, self.docket, self.signing)
        self.spawned.add(child)
        child.gone.add_done_callback(lambda _: self.spawned.discard(child))
        try:
            await child.start()
            await child.ready
        except asyncio.CancelledError:
            child.kill()
            raise
        except Exception as error:
            self.failures += 1
            child.kill()
            logger.warning(
                "Could not start an isolated child in pool %r: %s", self.name, error
            )
            if not self.closing:
                asyncio.get_running_loop().call_soon(self.fill)
            return
        self.failures = 0
        if self.closing:
            await child.retire(RETIRE_GRACE)
            return
        self.children.add(child)
        self.observe(self.name, "started")
        if not self.announced and len(self.children) >= self.size:
            self.announced = True
            logger.info(
                "Isolated pool %r ready: %d child process%s",
                self.name,
                self.size,
                "" if self.size == 1 else "es",
            )
        child.gone.add_done_callback(lambda _: self._gone(child))
        self.idle.put_nowait(child)

    def _gone(self, child: Process) -> None:
        if child in self.children:
            self.children.discard(child)
            self.observe(self.name, "gone")
            if child.answer is None and child.killed_for is None and not self.closing:
                # It died idle (the OOM killer, a signal from outside).
                self.observe(self.name, f"restart:{child.gone.result()}")
        if not self.closing:
            self.fill()

    async def acquire(self) -> Process:
        """An idle child, waiting for one (the pool is filled first)."""
        self.fill()
        child = await self.idle.get()
        while child.gone.done():  # died while idle
            child = await self.idle.get()
        return child

    async def call(
        self,
        child: Process,
        payload: tuple[Any, ...],
        on_update: Handler,
        memory_limit: int | None,
    ) -> Any:
        """Run one call in ``child`` (from ``acquire``); a child that dies, or
        whose call is cancelled (a Timeout, a cancel, a forced stop), is killed
        and replaced."""
        watch = (
            asyncio.ensure_future(_watch_memory(child, memory_limit))
            if memory_limit is not None
            else None
        )
        try:
            return await child.call(payload, on_update)
        except ChildDied as died:
            if not died.idle:  # (one that died idle was counted as it went)
                self.observe(self.name, f"restart:{died.cause}")
            raise
        except asyncio.CancelledError:
            child.kill("cancelled")
            raise
        finally:
            if watch is not None:
                watch.cancel()

    def release(self, child: Process) -> None:
        """Give ``child`` back after its call: to the idle ones, or retired
        (``max_tasks_per_child``), or left to be replaced (it died or was
        killed)."""
        self._after_call(child, child.killed_for is None)

    def _after_call(self, child: Process, healthy: bool) -> None:
        if not healthy or child.gone.done():
            child.kill()
            return
        if (self.max_tasks and child.calls >= self.max_tasks) or self.closing:
            self.children.discard(child)
            self.observe(self.name, "gone")
            self.observe(self.name, "restart:max_tasks")
            task = asyncio.ensure_future(child.retire(RETIRE_GRACE))
            self.retiring.add(task)
            task.add_done_callback(self.retiring.discard)
            self.fill()
            return
        self.idle.put_nowait(child)

    async def close(self, graceful: bool) -> None:
        """Stop every child: idle ones are asked to exit (killed after a grace
        when ``graceful``, at once otherwise)."""
        self.closing = True
        for task in list(self.starting):
            task.cancel()
        children = list(self.children)
        if not graceful:
            for child in children:
                child.kill("stopped")
        await asyncio.gather(
            *(child.retire(RETIRE_GRACE if graceful else 0.0) for child in children),
            *self.retiring,
            return_exceptions=True,
        )
        await asyncio.gather(*self.starting, return_exceptions=True)
        for child in list(self.spawned):  # started, then cancelled: end them too
            child.kill("stopped")
        await asyncio.gather(
            *(child.reading for child in self.spawned if child.reading is not None),
            return_exceptions=True,
        )


async def _watch_memory(child: Process, limit: int) -> None:
    """Kill ``child`` once its resident size passes ``limit``."""
    while not child.gone.done():
        resident = child.resident_bytes()
        if resident is not None and resident > limit:
            child.kill("memory")
            return
        await asyncio.sleep(MEMORY_WATCH_INTERVAL)
