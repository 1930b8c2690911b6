"""Real processes and a real redis-server: sharing, crashes and server restarts."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from datetime import timedelta

import pytest

from docket import Docket, Worker
from tests._support import process_tasks
from tests._support.processes import worker_process
from tests._support.servers import RedisServer
from tests.conftest import eventually

pytestmark = pytest.mark.slow


async def test_two_worker_processes_share_one_docket(
    redis_server: RedisServer,
    docket_name: str,
    processes: list[subprocess.Popen[bytes]],
):
    """Two worker processes split one docket's tasks; every task runs exactly once."""
    async with Docket(name=docket_name, url=redis_server.url) as docket:
        processes.append(worker_process(redis_server.url, docket_name, "w1"))
        processes.append(worker_process(redis_server.url, docket_name, "w2"))
        await eventually(lambda: _count(docket.workers(), 2), timeout=15)
        for i in range(60):
            await docket.add(process_tasks.record, key=f"job-{i}")(f"job-{i}")
        async with docket.redis() as client:

            async def all_ran() -> bool:
                lengths = [
                    await client.llen(docket.key(f"test-ran:job-{i}"))
                    for i in range(60)
                ]
                return all(n >= 1 for n in lengths)

            await eventually(all_ran, timeout=20)
            pids: set[bytes] = set()
            for i in range(60):
                ran = await client.lrange(docket.key(f"test-ran:job-{i}"), 0, -1)
                assert len(ran) == 1, f"job-{i} ran {len(ran)} times"
                pids.update(ran)
        assert pids == {str(p.pid).encode() for p in processes}


async def _count(awaitable, expected: int) -> bool:
    return len(await awaitable) == expected


async def test_killed_worker_task_is_redelivered_to_another(
    redis_server: RedisServer,
    docket_name: str,
    processes: list[subprocess.Popen[bytes]],
):
    """SIGKILL a worker mid-task: another worker reclaims the message and finishes it."""
    async with Docket(name=docket_name, url=redis_server.url) as docket:
        victim = worker_process(
            redis_server.url, docket_name, "victim", redelivery_ms=500
        )
        processes.append(victim)
        execution = await docket.add(process_tasks.stall_first_time, key="fragile")()
        async with docket.redis() as client:
            started = docket.key("test-started")
            await eventually(lambda: client.llen(started), timeout=15)
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=10)
            rescuer = worker_process(
                redis_server.url, docket_name, "rescuer", redelivery_ms=500
            )
            processes.append(rescuer)
            result = await execution.get_result(timeout=timedelta(seconds=20))
            assert result == f"finished by {rescuer.pid}"
            assert await client.lrange(started, 0, -1) == [
                f"{victim.pid}:False".encode(),
                f"{rescuer.pid}:True".encode(),
            ]


async def test_worker_survives_a_redis_restart(docket_name: str):
    """A worker keeps working after redis-server restarts under it."""
    server = RedisServer().start()
    try:
        ran: list[str] = []

        async def job(label: str) -> None:
            ran.append(label)

        async with Docket(name=docket_name, url=server.url) as docket:
            docket.register(job)
            async with Worker(
                docket,
                reconnection_delay=timedelta(milliseconds=100),
                minimum_check_interval=timedelta(milliseconds=20),
            ) as worker:
                run = asyncio.ensure_future(worker.run_forever())
                await docket.add(job)("before")
                await eventually(lambda: ran == ["before"])
                await asyncio.to_thread(server.restart)

                async def add_after() -> bool:
                    try:
                        await docket.add(job)("after")
                    except Exception:
                        return False
                    return True

                await eventually(add_after, timeout=10, interval=0.1)
                await eventually(lambda: ran == ["before", "after"], timeout=15)
                run.cancel()
                await run
    finally:
        server.close()
