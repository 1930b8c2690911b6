"""``Isolated``: run the task body in one of the worker's child processes.

The dependency only says *where* the body runs (which pool, under what memory
limit); the worker's isolation pools (``docket._worker.isolation``) do the work.
A child that misbehaves (never yields, crashes, runs out of memory) is killed or
replaced without stopping the worker or its other tasks.
"""

from __future__ import annotations

import re
from typing import ClassVar

from uncalled_for import Dependency

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(size: int | str) -> int:
    """Bytes in ``size``: an int, or text such as ``512MiB``, ``2GiB``, ``100MB``."""
    if isinstance(size, bool):
        raise TypeError(
            f"a memory size must be bytes or text like '2GiB', not {size!r}"
        )
    if isinstance(size, int):
        number, unit = float(size), ""
    else:
        match = _SIZE.match(size)
        if match is None or match.group(2).lower() not in _UNITS:
            raise ValueError(
                f"Cannot read memory size {size!r}: use bytes or a number with "
                "one of the units KiB, MiB, GiB, TiB, KB, MB, GB"
            )
        number, unit = float(match.group(1)), match.group(2).lower()
    value = int(number * _UNITS[unit])
    if value <= 0:
        raise ValueError(f"A memory limit must be positive, got {size!r}")
    return value


class Isolated(Dependency["Isolated"]):
    """Run this task's body in a child process of the worker.

    ``pool`` names the pool of children it runs in (``None``: the worker's
    default pool, sized by ``isolated_processes``); ``memory_limit`` (bytes, or
    text such as ``"2GiB"``) kills the child when the task's memory passes it.
    Dependencies are resolved in the worker; the function and its arguments are
    sent to the child, and the result, exception, progress and log records come
    back. A ``Timeout`` kills the child at its deadline.
    """

    single: bool = True
    available: ClassVar[bool] = True

    pool: str | None
    memory_limit: int | None

    def __init__(
        self, pool: str | None = None, memory_limit: int | str | None = None
    ) -> None:
        if pool is not None and not (isinstance(pool, str) and pool.strip()):
            raise ValueError(f"A pool name must be non-empty text, got {pool!r}")
        self.pool = pool
        self.memory_limit = None if memory_limit is None else parse_size(memory_limit)

    async def __aenter__(self) -> Isolated:
        return self

    def __repr__(self) -> str:
        parts: list[str] = []
        if self.pool is not None:
            parts.append(f"pool={self.pool!r}")
        if self.memory_limit is not None:
            parts.append(f"memory_limit={self.memory_limit!r}")
        return f"Isolated({', '.join(parts)})"
