"""Task functions that run in isolated children (imported there by name)."""

from __future__ import annotations

import ctypes
import logging
import os
import time
from datetime import timedelta

from docket import (
    CurrentExecution,
    Execution,
    Isolated,
    Progress,
    Retry,
    TaskLogger,
    Timeout,
)
from docket.dependencies import Depends, TaskKey


def add(a: int, b: int, isolated: Isolated = Isolated()) -> int:
    return a + b


async def async_pid(isolated: Isolated = Isolated()) -> int:
    return os.getpid()


def sync_pid(isolated: Isolated = Isolated()) -> int:
    return os.getpid()


def plain_pid() -> int:
    return os.getpid()


def raises(isolated: Isolated = Isolated()) -> None:
    raise ValueError("broken in the child")


class Unpicklable(Exception):
    def __init__(self, handle: object) -> None:
        super().__init__("holds a lock")
        self.handle = handle

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("cannot pickle this")


def raises_unpicklable(isolated: Isolated = Isolated()) -> None:
    raise Unpicklable(object())


def spin(
    isolated: Isolated = Isolated(),
    timeout: Timeout = Timeout(timedelta(seconds=1)),
) -> None:
    while True:
        pass


async def spin_async(
    isolated: Isolated = Isolated(),
    timeout: Timeout = Timeout(timedelta(milliseconds=500)),
    retry: Retry = Retry(attempts=2),
) -> None:
    while True:
        pass


def sleeps(seconds: float, isolated: Isolated = Isolated()) -> float:
    time.sleep(seconds)
    return seconds


def exits(isolated: Isolated = Isolated()) -> None:
    os._exit(3)


def segfaults(isolated: Isolated = Isolated()) -> None:
    ctypes.string_at(0)


def hogs_memory(
    megabytes: int, isolated: Isolated = Isolated(memory_limit="150MiB")
) -> int:
    held = [b"x" * (1 << 20) for _ in range(megabytes)]
    return len(held)


def reserves_memory(isolated: Isolated = Isolated(memory_limit="100MiB")) -> int:
    return len(bytearray(1 << 30))


def exits_with_retry(
    isolated: Isolated = Isolated(), retry: Retry = Retry(attempts=3)
) -> None:
    os._exit(3)


async def reports(
    isolated: Isolated = Isolated(), progress: Progress = Progress()
) -> int | None:
    await progress.set_total(4)
    await progress.increment(3)
    await progress.set_message("nearly there")
    return progress.current


def logs(
    isolated: Isolated = Isolated(),
    logger: logging.LoggerAdapter[logging.Logger] = TaskLogger(),
) -> None:
    logger.warning("hello from pid %d", os.getpid())


def extends(
    isolated: Isolated = Isolated(),
    timeout: Timeout = Timeout(timedelta(seconds=1)),
) -> float:
    timeout.extend(timedelta(seconds=3))
    time.sleep(1.5)
    return timeout.remaining().total_seconds()


def the_key(key: str = TaskKey(), isolated: Isolated = Isolated()) -> str:
    return key


def doubled(value: int = Depends(lambda: 21)) -> int:  # resolved in the worker
    return value * 2


def depends(
    value: int = Depends(lambda: 21), isolated: Isolated = Isolated()
) -> tuple[int, int]:
    return value * 2, os.getpid()


def in_heavy(isolated: Isolated = Isolated(pool="heavy")) -> int:
    return os.getpid()


def in_missing(isolated: Isolated = Isolated(pool="missing")) -> int:
    return os.getpid()


def noop(isolated: Isolated = Isolated()) -> None:
    return None


def plain_noop() -> None:
    return None


tasks = [
    add,
    sync_pid,
    plain_pid,
    spin,
    exits,
    segfaults,
    hogs_memory,
    in_heavy,
    sleeps,
    noop,
    plain_noop,
]


def wants_the_execution(
    execution: Execution = CurrentExecution(), isolated: Isolated = Isolated()
) -> str:
    return execution.key
