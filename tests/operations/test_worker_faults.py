"""Redis faults injected against a real redis-server: the worker rides them out.

Each test runs an in-process worker against a server of its own and breaks the
server on purpose (out of memory, paused past the client's socket timeout, read
only, stopped and restarted, a stalled event loop), then shows that the worker
keeps running, finishes every task, and runs none of them twice.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest

from docket import Docket, Execution, ExecutionState, Worker
from tests._support.servers import RedisServer
from tests.conftest import eventually

pytestmark = pytest.mark.slow

runs: Counter[str] = Counter()


async def counted(label: str) -> None:
    runs[label] += 1


@pytest.fixture
def server() -> Iterator[RedisServer]:
    server = RedisServer().start()  # durable (AOF, fsync always): survives restarts
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
async def docket(server: RedisServer) -> AsyncIterator[Docket]:
    runs.clear()
    url = server.url + "?socket_timeout=1&socket_connect_timeout=1"
    async with Docket(name="faults", url=url) as docket:
        docket.register(counted)
        yield docket


def fast_worker(docket: Docket, **options: object) -> Worker:
    settings: dict[str, object] = {
        "concurrency": 4,
        "redelivery_timeout": timedelta(seconds=3),
        "reconnection_delay": timedelta(milliseconds=50),
        "minimum_check_interval": timedelta(milliseconds=10),
        "scheduling_resolution": timedelta(milliseconds=10),
    }
    settings.update(options)
    return Worker(docket, **settings)  # type: ignore[arg-type]


async def add_many(docket: Docket, prefix: str, count: int) -> list[Execution]:
    return [
        await docket.add(counted, key=f"{prefix}-{i}")(f"{prefix}-{i}")
        for i in range(count)
    ]


async def all_completed(executions: list[Execution]) -> bool:
    for execution in executions:
        await execution.sync()
        if execution.state is not ExecutionState.COMPLETED:
            return False
    return True


async def test_out_of_memory_pauses_the_worker_and_it_recovers(
    docket: Docket, server: RedisServer
):
    """With maxmemory exhausted (noeviction) every write fails with OOM: the worker
    does not exit; once memory is back, every task completes, each once."""
    first = await add_many(docket, "before", 5)
    async with fast_worker(docket) as worker:
        running = asyncio.ensure_future(worker.run_forever())
        await eventually(lambda: all_completed(first))
        server.cli("CONFIG", "SET", "maxmemory-policy", "noeviction")
        server.cli("CONFIG", "SET", "maxmemory", "1")
        async with docket.redis() as client:
            with pytest.raises(Exception, match="maxmemory"):
                await client.set("probe", "x")
        await asyncio.sleep(0.5)  # the outage itself: loops fail and back off
        assert not running.done()
        server.cli("CONFIG", "SET", "maxmemory", "0")
        second = await add_many(docket, "after", 5)
        await eventually(lambda: all_completed(second), timeout=10)
        worker.stop()
        await running
    assert set(runs.values()) == {1} and len(runs) == 10


async def test_a_pause_longer_than_the_socket_timeout_is_survived(
    docket: Docket, server: RedisServer
):
    """CLIENT PAUSE beyond socket_timeout makes commands time out (TimeoutError):
    the worker keeps going, and tasks added around the pause run once each."""
    first = await add_many(docket, "before", 3)
    async with fast_worker(docket) as worker:
        running = asyncio.ensure_future(worker.run_forever())
        await eventually(lambda: all_completed(first))
        server.cli("CLIENT", "PAUSE", "2500", "ALL")
        await asyncio.sleep(2.6)
        assert not running.done()
        second = await add_many(docket, "after", 3)
        await eventually(lambda: all_completed(second), timeout=10)
        worker.stop()
        await running
    assert set(runs.values()) == {1} and len(runs) == 6


async def test_a_read_only_server_is_waited_out(docket: Docket, server: RedisServer):
    """After a failover a replica answers READONLY to writes: the worker waits
    until the server takes writes again, then carries on."""
    replica_of = RedisServer(durable=False).start()
    try:
        async with fast_worker(docket) as worker:
            running = asyncio.ensure_future(worker.run_forever())
            await eventually(worker.is_healthy)
            server.cli("REPLICAOF", "127.0.0.1", str(replica_of.port))
            await asyncio.sleep(0.5)
            assert not running.done()
            server.cli("REPLICAOF", "NO", "ONE")
            later = await add_many(docket, "later", 3)
            await eventually(lambda: all_completed(later), timeout=10)
            worker.stop()
            await running
    finally:
        replica_of.close()
    assert set(runs.values()) == {1}


async def test_tasks_finished_during_an_outage_are_settled_once(
    docket: Docket, server: RedisServer
):
    """Tasks that finish while Redis is down keep their outcome and their slots;
    when Redis is back the settlement lands, and nothing runs a second time."""
    gate = asyncio.Event()

    async def held(label: str) -> None:
        runs[label] += 1
        await gate.wait()

    docket.register(held)
    executions = [
        await docket.add(held, key=f"held-{i}")(f"held-{i}") for i in range(4)
    ]
    async with fast_worker(docket) as worker:
        running = asyncio.ensure_future(worker.run_forever())
        await eventually(lambda: len(runs) == 4)
        server.stop()
        gate.set()  # they finish while nobody can record it
        await asyncio.sleep(1.0)
        server.start()
        await eventually(lambda: all_completed(executions), timeout=15)
        await asyncio.sleep(3.5)  # past redelivery_timeout: nothing comes back
        worker.stop()
        await running
    assert dict(runs) == {f"held-{i}": 1 for i in range(4)}


async def test_the_health_check_fails_while_redis_is_unreachable(
    server: RedisServer,
):
    """is_healthy() turns false when heartbeats cannot reach Redis, and true again
    once they do."""
    async with Docket(
        name="health-faults",
        url=server.url + "?socket_timeout=1",
        heartbeat_interval=timedelta(milliseconds=100),
    ) as docket:
        async with fast_worker(docket) as worker:
            running = asyncio.ensure_future(worker.run_forever())
            await eventually(worker.is_healthy)
            server.stop()
            await eventually(lambda: not worker.is_healthy(), timeout=10)
            server.start()
            await eventually(worker.is_healthy, timeout=15)
            worker.stop()
            await running


async def test_a_stalled_loop_never_runs_its_own_message_twice(docket: Docket):
    """When the event loop stalls past redelivery_timeout, the sweep finds this
    worker's own message idle: it is a lease to renew, not work to run again."""

    async def stalls(label: str) -> None:
        runs[label] += 1
        time.sleep(0.8)  # blocks the event loop: no lease renewal meanwhile

    docket.register(stalls)
    execution = await docket.add(stalls, key="stall")("stall")
    worker = fast_worker(docket, redelivery_timeout=timedelta(milliseconds=300))
    async with worker:
        await worker.run_until_finished()
    await execution.sync()
    assert execution.state is ExecutionState.COMPLETED
    assert runs["stall"] == 1


async def test_an_orphan_behind_live_work_is_found(docket: Docket):
    """Messages other live workers hold (and renew) ahead of an orphan in the
    pending list do not hide it: the sweep goes on from where it stopped."""
    gate = asyncio.Event()

    async def long_running(label: str) -> None:
        await gate.wait()

    docket.register(long_running)
    for i in range(30):
        await docket.add(long_running, key=f"live-{i}")(f"live-{i}")
    timeout = timedelta(milliseconds=400)
    async with fast_worker(docket, concurrency=30, redelivery_timeout=timeout) as busy:
        holding = asyncio.ensure_future(busy.run_forever())
        await eventually(lambda: busy_in_flight(docket, 30))
        orphan = await docket.add(counted, key="orphan")("orphan")
        await docket.broker.queue.read(
            "ghost", 1, 10
        )  # delivered to a worker that died
        async with fast_worker(docket, concurrency=1, redelivery_timeout=timeout) as w:
            rescuing = asyncio.ensure_future(w.run_forever())
            started = time.monotonic()
            await eventually(lambda: all_completed([orphan]), timeout=10)
            assert time.monotonic() - started < timeout.total_seconds() + 2
            w.stop()
            await rescuing
        gate.set()
        busy.stop()
        await holding


async def busy_in_flight(docket: Docket, count: int) -> bool:
    await docket.broker.ensure_group()
    async with docket.redis() as client:
        summary = await client.xpending(docket.stream_key, docket.worker_group_name)
    return int(summary["pending"]) == count


async def test_a_message_delivered_too_often_is_dead_lettered(docket: Docket):
    """A message whose workers keep dying on it (delivered more than
    max_deliveries times) goes to P:dead instead of running again."""
    execution = await docket.add(counted, key="crashy")("crashy")
    broker = docket.broker
    await broker.ensure_group()
    assert len(await broker.queue.read("ghost-0", 1, 10)) == 1
    for i in range(1, 4):  # three more workers took it up and died
        await broker.sweep.reclaim(f"ghost-{i}", 1, 0)
    async with fast_worker(
        docket, max_deliveries=3, redelivery_timeout=timedelta(milliseconds=100)
    ) as worker:
        await worker.run_until_finished()
    (letter,) = await docket.dead_letters.list()
    assert letter.reason == "max-deliveries"
    assert "delivered 5 times (the limit is 3)" in letter.detail
    assert runs["crashy"] == 0
    await execution.sync()
    assert execution.state is ExecutionState.FAILED


async def test_blocking_reads_respect_the_socket_timeout(
    server: RedisServer, caplog: pytest.LogCaptureFixture
):
    """With socket_timeout set, the strike monitor and the worker's reads block for
    less than it, so an idle docket logs no timeouts (it signs, so the start-up
    warning about unsigned payloads does not apply either)."""
    url = server.url + "?socket_timeout=0.4"
    keys = ["quiet-docket-signing-key-0123456789"]
    async with Docket(name="quiet", url=url, signing_keys=keys) as docket:
        worker = fast_worker(docket, minimum_check_interval=timedelta(seconds=1))
        async with worker:
            with caplog.at_level("WARNING"):
                running = asyncio.ensure_future(worker.run_forever())
                await docket.wait_for_strikes_loaded()
                await asyncio.sleep(1.5)  # the idle period under observation
                worker.stop()
                await running
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]


async def test_a_perpetual_successor_is_scheduled_once_through_an_outage(
    docket: Docket, server: RedisServer
):
    """Redis goes down while a perpetual run finishes: scheduling its successor is
    retried until Redis is back, the chain goes on, and the run is not repeated."""
    from docket import Perpetual

    seen: list[int] = []
    outage = asyncio.Event()

    async def chained(perpetual: Perpetual = Perpetual(every=timedelta(0))) -> None:
        seen.append(len(seen))
        if len(seen) == 1:
            await asyncio.to_thread(server.stop)  # the successor cannot be placed
            outage.set()
        if len(seen) >= 3:
            perpetual.cancel()

    docket.register(chained)
    await docket.add(chained, key="chain")()
    async with fast_worker(docket) as worker:
        running = asyncio.ensure_future(worker.run_forever())
        await asyncio.wait_for(outage.wait(), 10)
        await asyncio.sleep(0.5)  # the outage itself
        assert seen == [0]
        server.start()
        await eventually(lambda: len(seen) == 3, timeout=15)
        worker.stop()
        await running
    assert seen == [0, 1, 2]


async def test_a_missing_acl_rule_fails_fast_and_names_it(server: RedisServer):
    """A worker whose ACL user lacks a command it needs does not hang or retry at
    start-up: it raises AccessDenied naming the rule to grant."""
    from docket._redis.faults import AccessDenied

    reply = server.cli(
        "ACL", "SETUSER", "narrow", "on", ">pw", "~acl:*", "&acl:*", "+@all",
        "-xreadgroup",
    )  # fmt: skip
    assert reply.strip() == "OK"
    url = f"redis://narrow:pw@127.0.0.1:{server.port}/0"
    async with Docket(name="acl", url=url) as docket:
        async with fast_worker(docket) as worker:
            with pytest.raises(AccessDenied, match=r"grant it \+xreadgroup"):
                await asyncio.wait_for(worker.run_until_finished(), 10)


async def test_connections_idle_through_a_restart_are_opened_again(
    docket: Docket, server: RedisServer
):
    """After Redis restarts, the first commands on connections that sat idle through
    it (the docket's pooled connection, and the one its script calls hold) succeed:
    nobody sees 'Connection closed by server' for a socket that closed while idle."""
    execution = await docket.add(counted, key="idle-1")("idle-1")
    await execution.sync()  # both connections are open and idle now
    await asyncio.to_thread(server.stop)  # the event loop sees the sockets close
    await asyncio.to_thread(server.start)
    await execution.sync()
    assert execution.state is ExecutionState.QUEUED
    second = await docket.add(counted, key="idle-2")("idle-2")
    assert second.state is ExecutionState.QUEUED


async def test_a_failed_lease_renewal_is_logged_as_pydocket_words_it(
    docket: Docket, server: RedisServer, caplog: pytest.LogCaptureFixture
):
    """While Redis is stopped under a running task, the lease renewal fails and is
    logged at DEBUG as "Failed to renew leases: Redis is unavailable (...)" (each
    loop's failure reads "Failed to <what it does>"; the outage itself is told
    once at WARNING); the task still completes once Redis is back."""
    gate = asyncio.Event()

    async def held(label: str) -> None:
        runs[label] += 1
        await gate.wait()

    docket.register(held)
    execution = await docket.add(held, key="held")("held")
    async with fast_worker(
        docket, redelivery_timeout=timedelta(milliseconds=400)
    ) as worker:
        running = asyncio.ensure_future(worker.run_forever())
        await eventually(lambda: runs["held"] == 1)
        with caplog.at_level("DEBUG", logger="docket.worker"):
            server.stop()
            await eventually(lambda: "Failed to renew leases" in caplog.text)
            server.start()
            gate.set()
            await eventually(lambda: all_completed([execution]), timeout=15)
        worker.stop()
        await running
    renewals = [
        r.getMessage() for r in caplog.records if "renew leases" in r.getMessage()
    ]
    assert renewals[0].startswith("Failed to renew leases: Redis is unavailable (")
    assert dict(runs) == {"held": 1}
