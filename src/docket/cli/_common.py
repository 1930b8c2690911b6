"""What every command shares: running its async body, and reporting failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine
from typing import Any, TypeVar

import typer
from redis.exceptions import AuthenticationError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rich.console import Console

from .._redis import redact_url
from .._text import for_lines
from ._logging import redact_secrets

T = TypeVar("T")

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


def say(message: str) -> None:
    """Print plain lines: no markup, no wrapping (keys stay whole), and no
    control character but the line breaks (values inside ``message`` should
    still go through ``for_terminal``, so that theirs are escaped too)."""
    console.print(for_lines(message), markup=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` on stderr (without secrets, control characters
    escaped as by ``say``); the Exit to raise."""
    errors.print(for_lines(redact_secrets(message)), markup=False, soft_wrap=True)
    return typer.Exit(code)


def run(body: Coroutine[Any, Any, T], url: str) -> T:
    """Run a command's coroutine; Redis trouble becomes a one-line error, exit 1."""
    try:
        return asyncio.run(body)
    except (AuthenticationError, RedisConnectionError, RedisTimeoutError, OSError) as e:
        raise fail(f"Error: could not reach {redact_url(url)}: {e}") from None
    except ResponseError as error:
        raise fail(f"Error: Redis at {redact_url(url)} refused: {error}") from None


async def iterate_with_timeout(
    iterator: AsyncIterator[T], timeout: float
) -> AsyncGenerator[T | None, None]:
    """The items of ``iterator``, and None whenever ``timeout`` seconds pass without one.

    A read that times out is not cancelled: the next step goes on waiting for it, so
    no item is lost. When this generator ends (exhausted, closed or cancelled), the
    pending read is cancelled and ``iterator`` is closed; a pending read that had
    already failed raises its error then (after the close), as in pydocket.
    """
    pending: asyncio.Future[T] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=timeout)
            if not done:
                yield None
                continue
            finished, pending = pending, None
            try:
                item = finished.result()
            except StopAsyncIteration:
                return
            yield item
    finally:
        failure: BaseException | None = None
        if pending is not None:
            if pending.done() and not pending.cancelled():
                error = pending.exception()
                if not isinstance(error, StopAsyncIteration):
                    failure = error
            else:
                pending.cancel()
                await asyncio.gather(pending, return_exceptions=True)
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()
        if failure is not None:
            raise failure
