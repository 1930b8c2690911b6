"""Workers with isolation pools, and reading a run's outcome."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from docket import Docket, Execution, Worker
from tests._support import isolated_tasks
from tests._support.timings import FAST


@pytest.fixture
async def isolated_worker(docket: Docket) -> AsyncIterator[Worker]:
    """A worker with a default pool of one child and a pool 'heavy' of one."""
    for function in vars(isolated_tasks).values():
        if callable(function) and getattr(function, "__module__", "") == (
            isolated_tasks.__name__
        ):
            if not isinstance(function, type):
                docket.register(function)
    async with Worker(
        docket,
        concurrency=4,
        **FAST,
        isolated_processes=1,
        pools={"heavy": 1},
    ) as worker:
        yield worker


async def outcome(execution: Execution) -> tuple[str, Any]:
    """("completed", result) or ("failed", the exception) of a finished run."""
    await execution.sync()
    try:
        return execution.state.value, await execution.get_result()
    except Exception as error:
        return execution.state.value, error


def alive(pid: int) -> bool:
    """Whether process ``pid`` still exists (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
