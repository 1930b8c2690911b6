"""Redis faults, classified once, and the backoff every worker loop shares.

A worker meets three kinds of failure from Redis:

* ``TRANSIENT``: the server is unreachable, restarting, loading, paused, out of
  memory, read-only after a failover, busy with a long script, refusing writes
  (MISCONF, NOREPLICAS), or a command timed out. Wait and try again.
* ``PERMISSION``: authentication failed or the ACL user lacks a command, key or
  channel. At start-up that is a configuration mistake: fail fast and name the
  missing rule. During a run (an ACL changed under us) retry, logging at ERROR.
* ``BUG``: anything that is not a Redis error. It is logged with its traceback
  and retried like a fault: one broken tick must not stop a worker.
"""

from __future__ import annotations

import asyncio
import enum
import random
import re
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import (
    AuthenticationError,
    AuthorizationError,
    NoPermissionError,
    RedisError,
    ResponseError,
)

T = TypeVar("T")


class Fault(enum.Enum):
    TRANSIENT = "transient"
    PERMISSION = "permission"
    BUG = "bug"


_PERMISSION_CODES = ("NOPERM", "NOAUTH", "WRONGPASS", "WRONGTYPE_AUTH")


def classify(error: BaseException) -> Fault:
    """Which kind of failure ``error`` is (grouped errors: the worst of them)."""
    grouped = getattr(error, "exceptions", None)
    if grouped:
        kinds = {classify(inner) for inner in grouped}
        for kind in (Fault.BUG, Fault.PERMISSION):
            if kind in kinds:
                return kind
        return Fault.TRANSIENT
    if isinstance(error, (NoPermissionError, AuthenticationError, AuthorizationError)):
        return Fault.PERMISSION
    if isinstance(error, ResponseError) and str(error).startswith(_PERMISSION_CODES):
        return Fault.PERMISSION
    if isinstance(error, (RedisError, OSError, asyncio.TimeoutError, TimeoutError)):
        return Fault.TRANSIENT
    return Fault.BUG


_COMMAND = re.compile(r"run the '([^']+)' command")
_KEY = re.compile(r"access (?:a|one of the) key")
_CHANNEL = re.compile(r"access (?:a|one of the) channel")


def missing_rule(error: BaseException, prefix: str) -> str:
    """The ACL rule a permission error points at, in ACL SETUSER syntax, if known."""
    text = str(error)
    if found := _COMMAND.search(text):
        return "+" + found.group(1).replace(" ", "|").lower()
    if _KEY.search(text):
        return f"~{prefix}:*"
    if _CHANNEL.search(text):
        return (
            f"&{prefix}:cancel:* &{prefix}:state:* &{prefix}:progress:* "
            f"(or &{prefix}:*)"
        )
    if isinstance(error, AuthenticationError) or "WRONGPASS" in text:
        return "a valid user name and password in the URL"
    return ""


class AccessDenied(RuntimeError):
    """Redis refused the worker's user something it needs: a configuration error,
    raised at start-up instead of retrying forever."""

    def __init__(self, error: BaseException, prefix: str) -> None:
        self.rule = missing_rule(error, prefix)
        hint = f"; grant it {self.rule}" if self.rule else ""
        super().__init__(f"Redis refused this worker's user: {error}{hint}")


class Backoff:
    """Capped exponential backoff with full jitter, from ``base`` seconds."""

    def __init__(self, base: float, cap: float) -> None:
        self.base = max(base, 0.001)
        self.cap = max(cap, self.base)
        self.failures = 0

    def next_delay(self) -> float:
        """The pause before the next try, after one more failure."""
        self.failures += 1
        ceiling = min(self.cap, self.base * 2 ** min(self.failures - 1, 30))
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.failures = 0


async def through_faults(
    operation: Callable[[], Awaitable[T]],
    on_fault: Callable[[BaseException], object],
    base: float = 0.1,
    cap: float = 5.0,
) -> T:
    """``operation()``'s result, trying again after Redis faults (capped backoff
    with jitter) until it succeeds; ``on_fault`` hears of each. Anything that is
    not a Redis fault is raised at once; cancellation ends the wait."""
    backoff = Backoff(base, cap)
    while True:
        try:
            return await operation()
        except Exception as error:
            if classify(error) is Fault.BUG:
                raise
            on_fault(error)
            await asyncio.sleep(backoff.next_delay())


__all__ = [
    "AccessDenied",
    "Backoff",
    "Fault",
    "classify",
    "missing_rule",
    "through_faults",
]
