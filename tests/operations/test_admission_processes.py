"""Admission control across worker processes sharing one real redis-server."""

from __future__ import annotations

import signal
import subprocess
from datetime import timedelta

import pytest

from docket import Docket
from tests._support import admission_tasks
from tests._support.processes import worker_process
from tests._support.servers import RedisServer
from tests.conftest import eventually

TASKS = "tests._support.admission_tasks:tasks"
pytestmark = pytest.mark.slow


async def two_workers(
    docket: Docket, url: str, processes: list[subprocess.Popen[bytes]]
) -> None:
    processes.append(worker_process(url, docket.name, "w1", tasks=TASKS))
    processes.append(worker_process(url, docket.name, "w2", tasks=TASKS))

    async def both_up() -> bool:
        return len(await docket.workers()) == 2

    await eventually(both_up, timeout=20)


async def test_concurrency_limit_holds_across_processes(
    redis_server: RedisServer,
    docket_name: str,
    processes: list[subprocess.Popen[bytes]],
):
    """Two worker processes never run more than 2 holders of one slot key at once."""
    async with Docket(name=docket_name, url=redis_server.url) as docket:
        await two_workers(docket, redis_server.url, processes)
        for n in range(16):
            await docket.add(admission_tasks.limited)(n)
        async with docket.redis() as client:
            ran_key = docket.key("test-ran")
            await eventually(lambda: _length_is(client, ran_key, 16), timeout=30)
            inside = [
                int(v)
                for v in await client.lrange(docket.key("test-inside-log"), 0, -1)
            ]
            ran = [v.decode() for v in await client.lrange(ran_key, 0, -1)]

            async def released() -> bool:  # the last release follows its body
                return not await client.keys(f"{docket.prefix}:concurrency*")

            await eventually(released)
    assert max(inside) == 2  # the limit was reached, never passed
    assert sorted(int(r.split(":")[0]) for r in ran) == list(range(16))  # each once
    assert {r.split(":")[1] for r in ran} == {str(p.pid) for p in processes}


async def _length_is(client: object, key: str, expected: int) -> bool:
    return await client.llen(key) >= expected  # type: ignore[attr-defined]


async def test_rate_limit_spaces_starts_across_processes(
    redis_server: RedisServer,
    docket_name: str,
    processes: list[subprocess.Popen[bytes]],
):
    """RateLimit(3, per=600 ms) over two processes: any 4 starts span >= one window."""
    async with Docket(name=docket_name, url=redis_server.url) as docket:
        await two_workers(docket, redis_server.url, processes)
        for n in range(9):
            await docket.add(admission_tasks.throttled)(n)
        async with docket.redis() as client:
            starts_key = docket.key("test-starts")
            await eventually(lambda: _length_is(client, starts_key, 9), timeout=30)
            rows = [
                v.decode().split(":") for v in await client.lrange(starts_key, 0, -1)
            ]
    starts = sorted(int(row[0]) for row in rows)
    assert sorted(int(row[1]) for row in rows) == list(range(9))
    # Admission happens a moment before the body records its start: allow 100 ms.
    gaps = [starts[i + 3] - starts[i] for i in range(len(starts) - 3)]
    assert min(gaps) >= 600 - 100, gaps
    # Blocked runs are rescheduled to when a start leaves the window, not later.
    assert starts[-1] - starts[0] < 3 * 600, starts


async def test_a_killed_holder_is_taken_over_and_wakes_its_waiter(
    redis_server: RedisServer,
    docket_name: str,
    processes: list[subprocess.Popen[bytes]],
):
    """SIGKILL the slot holder: its stale slot is recovered, then the waiter runs.

    Once the slot has stopped renewing, the rescuer finds two recoveries ready at
    the same moment, and either may reach Redis first: the holder's
    redelivery takes its stale slot over (the waiter is woken by its release), or
    the waiter's safeguard evicts the stale holder and wakes the waiter, and the
    redelivered holder then parks behind it and is woken by the waiter's release.
    """
    url = redis_server.url
    async with Docket(name=docket_name, url=url) as docket:
        victim = worker_process(
            url, docket_name, "victim", redelivery_ms=500, tasks=TASKS
        )
        processes.append(victim)
        holder = await docket.add(admission_tasks.stalled_holder, key="holder")(
            "holder"
        )
        async with docket.redis() as client:
            started = docket.key("test-started")
            await eventually(lambda: _length_is(client, started, 1), timeout=20)
            waiter = await docket.add(admission_tasks.stalled_holder, key="waiter")(
                "waiter"
            )
            await eventually(lambda: _parked(docket, "waiter"), timeout=10)
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=10)
            rescuer = worker_process(
                url, docket_name, "rescuer", redelivery_ms=500, tasks=TASKS
            )
            processes.append(rescuer)
            timeout = timedelta(seconds=20)
            assert await holder.get_result(timeout=timeout) == (
                f"holder finished by {rescuer.pid}"
            )
            assert await waiter.get_result(timeout=timeout) == (
                f"waiter finished by {rescuer.pid}"
            )
            starts = [v.decode() for v in await client.lrange(started, 0, -1)]

            async def released() -> bool:  # the last release follows its body
                return not await client.keys(f"{docket.prefix}:concurrency*")

            await eventually(released)
    assert starts[0] == f"holder:{victim.pid}:False"
    assert starts[1:] in (
        [f"holder:{rescuer.pid}:True", f"waiter:{rescuer.pid}:False"],  # takeover
        [f"waiter:{rescuer.pid}:False", f"holder:{rescuer.pid}:False"],  # safeguard
        # the safeguard wakes the waiter first; the holder's own message is
        # redelivered meanwhile, parks behind the waiter, and runs after it
        [f"waiter:{rescuer.pid}:False", f"holder:{rescuer.pid}:True"],
    ), starts


async def _parked(docket: Docket, key: str) -> bool:
    execution = await docket.get_execution(key)
    if execution is None:
        return False
    async with docket.redis() as client:
        return bool(await client.hget(docket.runs_key(key), "waiter_entry_id"))
