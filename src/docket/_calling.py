"""Calling a task's body: coroutines are awaited, plain functions run in a thread.

A worker runs plain functions on its own thread pool, sized to its concurrency, so
``concurrency`` sync tasks really run at once (the loop's default pool holds only
``min(32, cpus + 4)`` threads). Outside a worker, ``asyncio.to_thread`` is used.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from concurrent.futures import Executor
from typing import Any


def is_async(function: Any) -> bool:
    if inspect.iscoroutinefunction(function):
        return True
    call = getattr(type(function), "__call__", None)  # noqa: B004 (async callables)
    return inspect.iscoroutinefunction(call)


async def call_task(
    function: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    executor: Executor | None = None,
) -> Any:
    """Run ``function(*args, **kwargs)`` to completion without blocking the loop."""
    if is_async(function):
        return await function(*args, **kwargs)
    if executor is None:
        from .dependencies import current_worker

        worker = current_worker.get(None)
        executor = getattr(worker, "_executor", None)
    context = contextvars.copy_context()
    bound = functools.partial(context.run, function, *args, **kwargs)
    result = await asyncio.get_running_loop().run_in_executor(executor, bound)
    if inspect.isawaitable(result):  # a plain wrapper that returns a coroutine
        return await result
    return result
