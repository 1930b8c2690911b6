"""The tasks the chaos suite's worker processes run (``tests.chaos.tasks:tasks``).

Each task appends a ``start`` line when its body begins and a ``finish`` line when
it ends to a journal OUTSIDE Redis: one file per worker process, in the directory
named by ``DOCKET_CHAOS_LOG_DIR``, written with ``O_APPEND`` (one ``write`` per line,
so lines never interleave). A line is
``start|finish <quoted key> <pid> <monotonic> <wall>`` and a ``finish`` line adds
the monotonic time its run started. ``time.monotonic()`` is the machine-wide
CLOCK_MONOTONIC on Linux, so the controller compares it with its own clock.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from docket import (
    Checkpoint,
    Execution,
    FairShare,
    Parents,
    Signal,
    Suspend,
    TaskKey,
)

LOG_DIR_VARIABLE = "DOCKET_CHAOS_LOG_DIR"

_journal: int | None = None


def _write(line: str) -> None:
    global _journal
    if _journal is None:
        directory = Path(os.environ[LOG_DIR_VARIABLE])
        path = directory / f"worker-{os.getpid()}.log"
        _journal = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.write(_journal, line.encode())


def note(kind: str, key: str, started: float | None = None) -> float:
    """Append one journal line; return its monotonic time."""
    now = time.monotonic()
    extra = "" if started is None else f" {started:.6f}"
    _write(
        f"{kind} {quote(key, safe='')} {os.getpid()} {now:.6f} {time.time():.6f}{extra}\n"
    )
    return now


async def work(seconds: float, key: str = TaskKey()) -> None:
    """A unit of work: journal the start, take ``seconds``, journal the finish."""
    started = note("start", key)
    await asyncio.sleep(seconds)
    note("finish", key, started)


async def crash(key: str = TaskKey()) -> None:
    """Journal the start, then end the whole worker process at once (like an
    OOM kill or a segfault in a C extension): no finally block, no settlement."""
    note("start", key)
    os._exit(1)


async def fan_in(
    key: str = TaskKey(), parents: dict[str, Execution] = Parents()
) -> int:
    """The follower of a group: journal the start and finish, return how many
    parents it was given."""
    started = note("start", key)
    note("finish", key, started)
    return len(parents)


async def suspender(
    steps: int,
    seconds: float,
    pause: float,
    key: str = TaskKey(),
    suspend: Suspend = Suspend(),
    checkpoint: Checkpoint = Checkpoint(),
) -> None:
    """``steps`` steps of ``seconds`` each, every one journaled as ``<key>/<n>``
    and marked in the checkpoint, each followed by a durable sleep of ``pause``
    (after step 1: a wait for signal ``<key>-go``, whose payload must be the key);
    then the task's own start and finish (journaled once it has done them all)."""
    for n in range(steps):
        if not await checkpoint.done(str(n)):
            started = note("start", f"{key}/{n}")
            await asyncio.sleep(seconds)
            note("finish", f"{key}/{n}", started)
            await checkpoint.mark(str(n))
        if n == 1:
            if await suspend.for_signal(f"{key}-go") != key:
                return  # a wrong payload: never journaled as finished
        else:
            await suspend.until(datetime.now(timezone.utc) + timedelta(seconds=pause))
    started = note("start", key)
    note("finish", key, started)


async def signalled(
    n: int,
    seconds: float,
    key: str = TaskKey(),
    payload: Any = Signal("chaos-{n}"),
) -> None:
    """Waits for signal chaos-<n>, then works like ``work``; a payload that is not
    this task's own fails it (so it never counts as finished)."""
    started = note("start", key)
    if payload != {"n": n}:
        raise AssertionError(f"{key} received {payload!r}")
    await asyncio.sleep(seconds)
    note("finish", key, started)


async def shared(
    seconds: float, tenant: Annotated[str, FairShare()], key: str = TaskKey()
) -> None:
    """``work`` as a FairShare task: its tenant's backlog decides when it starts."""
    started = note("start", key)
    await asyncio.sleep(seconds)
    note("finish", key, started)


tasks = [work, crash, fan_in, suspender, signalled, shared]
