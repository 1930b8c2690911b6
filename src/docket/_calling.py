"""Calling a task's body: coroutines are awaited, plain functions run in a thread.

A worker runs plain functions on its own thread pool, sized to its concurrency, so
``concurrency`` sync tasks really run at once (the loop's default pool holds only
``min(32, cpus + 4)`` threads). The pool is handed in explicitly: the runner
passes it to ``call_task``, and hands a ``Runtime`` (``Timeout``) a body already
bound to it with ``bind_executor``. Without a pool, the loop's default one is used.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from collections.abc import Awaitable, Callable
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
    context = contextvars.copy_context()
    bound = functools.partial(context.run, function, *args, **kwargs)
    result = await asyncio.get_running_loop().run_in_executor(executor, bound)
    if inspect.isawaitable(result):  # a plain wrapper that returns a coroutine
        return await result
    return result


def bind_executor(
    function: Any, executor: Executor | None
) -> Callable[..., Awaitable[Any]]:
    """``function`` itself when it is async; else an async callable running it on
    ``executor`` (so a ``Runtime`` can simply await the body it is given)."""
    if is_async(function) or executor is None:
        return function

    @functools.wraps(function)
    async def on_executor(*args: Any, **kwargs: Any) -> Any:
        return await call_task(function, args, kwargs, executor)

    return on_executor
