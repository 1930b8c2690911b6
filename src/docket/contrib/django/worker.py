"""Running the Dockets of a DocketBackend's queues in one process (what
``manage.py docket_worker`` does): one Docket ``Worker`` per queue, each with
``run_django_task`` as its fallback, sync tasks on a thread pool as large as
the workers' concurrency together.

Stopping, as ``docket worker`` does: the first SIGTERM or SIGINT stops taking
work and lets running tasks finish; a second one cancels them (their messages
are redelivered later)."""

from __future__ import annotations

import asyncio
import inspect
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack

from docket import Worker

from .backend import DocketBackend
from .runner import run_django_task

DEFAULT_CONCURRENCY: int = inspect.signature(Worker).parameters["concurrency"].default
SIGNALS = (signal.SIGTERM, signal.SIGINT)
# How long closing the threads' database connections may wait for a thread.
CLOSE_SECONDS = 5.0


class _Stopper:
    """Signals to stops: graceful first, then forced."""

    def __init__(self, workers: Sequence[Worker]) -> None:
        self.workers = workers
        self.requested = 0

    def __call__(self) -> None:
        self.requested += 1
        for worker in self.workers:
            worker.stop(graceful=self.requested == 1)

    @property
    def forced(self) -> bool:
        return self.requested > 1


async def run_workers(
    backend: DocketBackend,
    queues: Sequence[str],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    name: str | None = None,
    until_finished: bool = False,
    started: Callable[[], None] | None = None,
) -> bool:
    """Run ``queues`` of ``backend`` until stopped by a signal (or, with
    ``until_finished``, until they are empty). Returns False when a second
    signal cancelled running tasks."""
    loop = asyncio.get_running_loop()
    threads = concurrency * max(len(queues), 1)
    executor = ThreadPoolExecutor(
        max_workers=threads, thread_name_prefix="docket-django"
    )
    loop.set_default_executor(executor)
    workers: list[Worker] = []
    stopper = _Stopper(workers)
    installed: list[signal.Signals] = []
    try:
        async with AsyncExitStack() as stack:
            for queue in queues:
                docket = await stack.enter_async_context(
                    backend.settings.make_docket(queue)
                )
                worker = Worker(
                    docket,
                    name=name,
                    concurrency=concurrency,
                    fallback_task=run_django_task,
                )
                workers.append(await stack.enter_async_context(worker))
            for received in SIGNALS:
                try:
                    loop.add_signal_handler(received, stopper)
                    installed.append(received)
                except (NotImplementedError, RuntimeError, ValueError):
                    pass  # not the main thread, or a platform without them
            runs = [
                asyncio.ensure_future(
                    worker.run_until_finished()
                    if until_finished
                    else worker.run_forever()
                )
                for worker in workers
            ]
            if started is not None:
                started()
            try:
                await asyncio.gather(*runs)
            except BaseException:
                for worker in workers:
                    worker.stop(graceful=False)
                await asyncio.gather(*runs, return_exceptions=True)
                raise
    finally:
        for received in installed:
            loop.remove_signal_handler(received)
        if not stopper.forced:
            await _close_connections(executor, threads)
        executor.shutdown(wait=False, cancel_futures=True)
    return not stopper.forced


async def _close_connections(executor: ThreadPoolExecutor, threads: int) -> None:
    """Close the database connections the tasks' threads kept (persistent
    ones, ``CONN_MAX_AGE`` > 0): one call in each of the pool's threads, held
    together by a barrier so that every thread takes one, and one in the
    thread Django's ``sync_to_async`` gives coroutine tasks."""
    from asgiref.sync import sync_to_async
    from django.db import connections

    barrier = threading.Barrier(threads)

    def close_here() -> None:
        try:
            barrier.wait(timeout=CLOSE_SECONDS)
        except threading.BrokenBarrierError:
            pass
        connections.close_all()

    closing = [asyncio.wrap_future(executor.submit(close_here)) for _ in range(threads)]
    await asyncio.gather(*closing, return_exceptions=True)
    await sync_to_async(connections.close_all)()


__all__ = ["DEFAULT_CONCURRENCY", "run_workers"]
