"""Strikes reach worker processes within a second, on a real redis-server."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from docket import Docket, ExecutionState
from tests._support import admission_tasks
from tests._support.processes import worker_process
from tests._support.servers import RedisServer
from tests.conftest import eventually

pytestmark = pytest.mark.slow


async def noted(docket: Docket) -> list[str]:
    async with docket.redis() as client:
        return [
            v.decode() for v in await client.lrange(docket.key("test-noted"), 0, -1)
        ]


async def test_a_worker_process_sees_strikes_and_restores_within_a_second(
    redis_server: RedisServer,
    docket_name: str,
    processes: list[subprocess.Popen[bytes]],
):
    """A strike issued here cancels work in another process due one second later.

    The tasks are added first (so this process's own strike check does not stop
    them), due one second out; the strike follows at once. The worker process
    must have applied it by the time they are due. A restore then lets new work
    due one second later run there.
    """
    async with Docket(name=docket_name, url=redis_server.url) as docket:
        processes.append(
            worker_process(
                redis_server.url,
                docket_name,
                "striker",
                tasks="tests._support.admission_tasks:tasks",
            )
        )

        async def up() -> bool:
            return len(await docket.workers()) == 1

        await eventually(up, timeout=20)
        soon = datetime.now(timezone.utc) + timedelta(seconds=1)
        struck = await docket.add(admission_tasks.note, when=soon)("struck")
        spared = await docket.add(
            admission_tasks.note, when=soon + timedelta(milliseconds=50)
        )("spared")
        await docket.strike(admission_tasks.note, "label", "==", "struck")
        timeout = timedelta(seconds=10)
        assert await spared.get_result(timeout=timeout) is None
        await eventually(lambda: _state_is(struck, ExecutionState.CANCELLED))
        assert await noted(docket) == ["spared"]

        await docket.restore(admission_tasks.note, "label", "==", "struck")
        soon = datetime.now(timezone.utc) + timedelta(seconds=1)
        again = await docket.add(admission_tasks.note, when=soon)("struck")
        assert await again.get_result(timeout=timeout) is None
        assert await noted(docket) == ["spared", "struck"]


async def _state_is(execution: object, state: ExecutionState) -> bool:
    await execution.sync()  # type: ignore[attr-defined]
    return execution.state is state  # type: ignore[attr-defined]
