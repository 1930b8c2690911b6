"""Helpers the Signal / Suspend / Checkpoint behaviour tests share: a worker
that polls fast, run until idle or until a condition holds, a key's state,
whether its checkpoint is kept, a Redis blip or a real redis-server outage
injected into one store call, and ``docket worker`` processes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from docket import Docket, ExecutionState, Worker
from tests._support.cli import WorkerProcess
from tests._support.servers import RedisServer
from tests._support.timings import FAST
from tests.conftest import eventually


async def run(docket: Docket) -> None:
    """Run a worker until nothing is left to run now."""
    async with Worker(docket, **FAST) as worker:
        await worker.run_until_finished()


async def run_until(
    docket: Docket, condition: Callable[[], object], timeout: float = 10.0
) -> None:
    """Run a worker until ``condition()`` holds (awaited when it is a coroutine):
    run_until_finished does not wait for signal waits or long sleeps."""
    async with Worker(docket, **FAST) as worker:
        running = asyncio.ensure_future(worker.run_forever())
        try:
            await eventually(condition, timeout=timeout)
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)


async def state(docket: Docket, key: str) -> ExecutionState | None:
    execution = await docket.get_execution(key)
    return None if execution is None else execution.state


async def checkpoint_kept(docket: Docket, key: str) -> bool:
    """Whether ``key``'s run still has its checkpoint (steps hash) in Redis."""
    async with docket.redis() as client:
        return bool(await client.exists(docket.keyspace.steps(key)))


def reaches(docket: Docket, key: str, wanted: ExecutionState) -> Callable[[], Any]:
    """A condition for ``run_until``: ``key`` is in state ``wanted``."""

    async def check() -> bool:
        return await state(docket, key) is wanted

    return check


def blip_once(monkeypatch: pytest.MonkeyPatch, store: type, method: str) -> list[str]:
    """Make the next call of ``store.method`` fail as a dropped connection does
    (a redis-server restart), then behave; the list returned holds ``method``
    until the blip has happened (a test asserts it emptied)."""
    real = getattr(store, method)
    pending = [method]

    async def blip(self: Any, *args: Any, **kwargs: Any) -> Any:
        if pending:
            pending.pop()
            raise RedisConnectionError("Connection closed by server.")
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(store, method, blip)
    return pending


@dataclass
class Outage:
    """A redis-server outage the next call of one store method meets:
    ``pending`` holds the method's name until the outage has happened; ``over()``
    waits until the server is back."""

    pending: list[str]
    restarts: list[asyncio.Future[None]] = field(default_factory=list)

    async def over(self) -> None:
        await asyncio.gather(*self.restarts)


def outage_on(
    monkeypatch: pytest.MonkeyPatch,
    server: RedisServer,
    store: type,
    method: str,
    seconds: float = 0.5,
) -> Outage:
    """Make the next call of ``store.method`` meet a real outage: redis-server
    stops just before the call goes out (every connection drops; its
    append-only file keeps the data) and starts again on the same port
    ``seconds`` later."""
    real = getattr(store, method)
    outage = Outage([method])

    async def restart() -> None:
        await asyncio.sleep(seconds)
        await asyncio.to_thread(server.start)

    async def dropped(self: Any, *args: Any, **kwargs: Any) -> Any:
        if outage.pending:
            outage.pending.pop()
            await asyncio.to_thread(server.stop)
            outage.restarts.append(asyncio.ensure_future(restart()))
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(store, method, dropped)
    return outage


@contextmanager
def docket_workers(
    docket_name: str, tasks: str, folder: Path, *options: str
) -> Iterator[Callable[[str], WorkerProcess]]:
    """Starts ``docket worker --concurrency 2 --scheduling-resolution 50ms`` (and
    ``options``) processes registering ``tasks`` on docket ``docket_name`` at a
    URL, each logging to a file in ``folder``; each is killed by its pid at the
    end."""
    started: list[WorkerProcess] = []

    def start(url: str) -> WorkerProcess:
        args = ["--url", url, "--docket", docket_name, "--tasks", tasks]
        args += ["--concurrency", "2", "--scheduling-resolution", "50ms", *options]
        worker = WorkerProcess(args, {}, folder / f"worker-{len(started)}.log")
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.close()
