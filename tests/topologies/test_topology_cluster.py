"""Redis Cluster: cluster-only behaviours on a real three-primary cluster.

The general behaviour tests marked ``cluster_ok`` (in tests/core/test_core_basics.py
and tests/behaviours/test_worker_behaviour.py) also run on the cluster; these are
cluster-specific.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import Annotated

import pytest
from redis.asyncio.cluster import RedisCluster
from typer.testing import CliRunner

from docket import (
    Docket,
    Execution,
    ExecutionCancelled,
    FairShare,
    Parents,
    Signal,
    Worker,
)
from docket._redis import open_backend
from docket.cli import app
from tests._support.cluster import RedisClusterNodes
from tests._support.timings import FAST
from tests.conftest import eventually

on_cluster = pytest.mark.parametrize("backend", ["cluster"], indirect=True)


async def greet(name: str) -> str:
    return f"hello {name}"


@on_cluster
async def test_every_key_shares_the_docket_hash_tag(docket: Docket, worker: Worker):
    """All of a docket's keys are ``{name}:*`` and hash to a single slot."""
    done = await docket.add(greet)("y")
    await worker.run_until_finished()
    await done.get_result()
    when = datetime.now(timezone.utc) + timedelta(minutes=5)
    await docket.add(greet, key="parked", when=when)("x")
    await docket.strike(greet, "name", "==", "z")
    assert docket.prefix == f"{{{docket.name}}}"
    expected = {"queue", "stream", "strikes", "parked", f"runs:{done.key}"}
    assert expected <= await keys_in_one_slot(docket)


async def keys_in_one_slot(docket: Docket) -> set[str]:
    """The docket's keys, each by what follows its hash tag, once every one of
    them is checked to start with the tag and all to hash to one slot."""
    async with docket.redis() as client:
        assert isinstance(client, RedisCluster)
        found = await client.keys(f"*{docket.name}*", target_nodes=client.PRIMARIES)
        keys = [k.decode() for k in found]
        slots = {client.keyslot(key) for key in keys}
    assert keys and all(key.startswith(f"{docket.prefix}:") for key in keys)
    assert len(slots) == 1
    return {key.split(":", 1)[1] for key in keys}


@on_cluster
async def test_cancel_a_running_task_through_the_pubsub_node(
    docket: Docket, worker: Worker
):
    started = asyncio.Event()

    async def long_running() -> None:
        started.set()
        await asyncio.sleep(30)

    execution = await docket.add(long_running, key="long")()
    run = asyncio.ensure_future(worker.run_until_finished())
    await asyncio.wait_for(started.wait(), 5)
    await docket.cancel("long")
    await asyncio.wait_for(run, 5)
    with pytest.raises(ExecutionCancelled):
        await execution.get_result(timeout=timedelta(seconds=2))


@on_cluster
async def test_replace_a_future_task(docket: Docket, worker: Worker):
    """replace() on the cluster withdraws the parked copy; only the successor runs."""
    later = datetime.now(timezone.utc) + timedelta(minutes=10)
    await docket.add(greet, when=later, key="k")("first")
    soon = datetime.now(timezone.utc) + timedelta(milliseconds=50)
    successor = await docket.replace(greet, when=soon, key="k")("second")
    await worker.run_until_finished()
    assert await successor.get_result(timeout=timedelta(seconds=2)) == "hello second"


@on_cluster
async def test_strikes_reach_the_worker(docket: Docket, worker: Worker):
    """A strike stops queued work at the worker; a restore lets new work run again."""
    ran: list[int] = []

    async def target(customer: int) -> None:
        ran.append(customer)

    await docket.add(target)(1)
    await docket.add(target)(2)
    await docket.strike(target, "customer", "==", 1)
    await worker.run_until_finished()
    assert ran == [2]
    await docket.restore(target, "customer", "==", 1)
    await docket.add(target)(1)
    await worker.run_until_finished()
    assert ran == [2, 1]


@on_cluster
async def test_many_concurrent_adds_share_pipelines(docket: Docket, worker: Worker):
    """Script calls batched into one cluster pipeline (EVALSHA) all land."""
    executions = await asyncio.gather(*(docket.add(greet)(str(i)) for i in range(60)))
    await worker.run_until_finished()
    results = [await e.get_result() for e in executions]
    assert results == [f"hello {i}" for i in range(60)]


@on_cluster
async def test_snapshot_and_workers_on_the_cluster(docket: Docket, worker: Worker):
    await docket.add(greet, when=datetime.now(timezone.utc) + timedelta(hours=1))("x")
    snapshot = await docket.snapshot()
    assert snapshot.total_tasks == 1
    await docket.clear()
    assert (await docket.snapshot()).total_tasks == 0


async def test_state_events_reach_subscribers_on_another_node(
    redis_cluster: RedisClusterNodes,
):
    """Publishing through the cluster client reaches subscribers on the pubsub node."""
    async with open_backend(redis_cluster.url) as backend:
        assert backend.is_cluster and backend.pubsub_nodes is not None
        pubsub = backend.pubsub()
        await pubsub.subscribe("{t}:state:k")
        await eventually(pubsub.get_message, timeout=2)
        for node in backend.client.get_primaries():
            await backend.client.publish("{t}:state:k", node.name, target_nodes=node)
        seen: set[bytes] = set()
        while len(seen) < 3:
            message = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=2
            )
            assert message is not None
            seen.add(message["data"])
        await pubsub.aclose()


async def test_tls_cluster(redis_cluster: RedisClusterNodes):
    """``rediss+cluster://`` with the CA in the query runs tasks end to end."""
    async with Docket(name="tls-cluster", url=redis_cluster.tls_url) as docket:
        execution = await docket.add(greet)("tls")
        async with Worker(docket, **FAST) as worker:
            await worker.run_until_finished()
        assert await execution.get_result() == "hello tls"
        assert docket._backend is not None
        client = docket._backend.pubsub_nodes.client()  # type: ignore[union-attr]
        assert client.connection_pool.connection_kwargs.get("ssl_ca_certs")


@pytest.mark.usefixtures("restore_logging")
def test_cli_against_the_cluster(redis_cluster: RedisClusterNodes):
    runner = CliRunner()
    args = ["--url", redis_cluster.url, "--docket", "cli-cluster"]
    result = runner.invoke(app, ["tasks", "trace", "hello", *args])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["snapshot", *args])
    assert result.exit_code == 0, result.output
    assert "trace" in result.output
    result = runner.invoke(app, ["clear", *args])
    assert result.exit_code == 0, result.output


@pytest.mark.usefixtures("restore_logging")
def test_unreachable_cluster_is_a_one_line_cli_error():
    runner = CliRunner()
    url = "redis+cluster://someone:hunter2@127.0.0.1:1/0"
    result = runner.invoke(app, ["clear", "--url", url, "--docket", "x"])
    assert result.exit_code == 1
    assert "hunter2" not in result.output and "Traceback" not in result.output


async def test_small_cluster_pools_warn(
    redis_cluster: RedisClusterNodes, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.WARNING, logger="docket.worker")
    url = redis_cluster.url + "?max_connections=5"
    async with Docket(name="small-cluster-pool", url=url) as docket:
        async with Worker(docket, concurrency=3) as worker:
            await worker.run_until_finished()
    assert any("allows 5 connections" in r.getMessage() for r in caplog.records)


async def total_of_parents(parents: dict[str, Execution] = Parents()) -> int:
    return sum([await e.get_result() for e in parents.values()])


@on_cluster
async def test_a_group_fans_in_on_the_cluster_within_one_slot(
    docket: Docket, worker: Worker
):
    """A group and its follower work on a cluster: the gate, the waiter sets and
    P:waiting share the docket's hash tag (one slot), and the follower sees every
    member's result."""
    docket.register(total_of_parents)
    later = datetime.now(timezone.utc) + timedelta(minutes=5)
    async with docket.group("cluster") as g:
        for n in range(5):
            await g.add(double_it, key=f"member-{n}")(n)
    await docket.add(greet, key="held-parent", when=later)("x")
    await docket.add(greet, key="waits", after="held-parent")("y")
    final = await docket.add(total_of_parents, key="final", after=g)()
    suffixes = await keys_in_one_slot(docket)
    assert {"gate:final", "gate:waits", "waiters:held-parent", "waiting"} <= suffixes
    await docket.cancel("held-parent")
    await worker.run_until_finished()
    assert await final.get_result(timeout=timedelta(seconds=10)) == 20


async def double_it(n: int) -> int:
    return n * 2


async def approve(
    n: int,
    answer: str = Signal("approve-{n}", timeout=timedelta(minutes=5), default="no"),
) -> str:
    return answer


@on_cluster
async def test_signal_waits_on_the_cluster_within_one_slot(
    docket: Docket, worker: Worker
):
    """Signals work on a cluster: the kept signals, the waiter sets and the
    deadlines share the docket's hash tag (one slot); a signal releases its waiter
    and a kept one is consumed by the next add."""
    docket.register(approve)
    waiting = await docket.add(approve, key="waiting")(1)
    assert await docket.signal("approve-2", "kept") is False
    await docket.signal("approve-3", "for later")
    suffixes = await keys_in_one_slot(docket)
    assert {
        "gate:waiting",
        "mailbox:waiters:approve-1",
        "mailbox:deadlines",
        "mailbox:kept:approve-2",
    } <= suffixes
    assert await docket.signal("approve-1", "yes") is True
    took = await docket.add(approve, key="took")(2)
    await worker.run_until_finished()
    assert await waiting.get_result(timeout=timedelta(seconds=10)) == "yes"
    assert await took.get_result(timeout=timedelta(seconds=10)) == "kept"


STARTS: list[str] = []


async def ranked(label: str) -> None:
    STARTS.append(label)


async def render(report: str, tenant: Annotated[str, FairShare()]) -> None:
    STARTS.append(f"{tenant}:{report}")


@on_cluster
async def test_priorities_and_fair_share_on_the_cluster_within_one_slot(
    docket: Docket, worker: Worker
):
    """Priority lanes, their parked messages, the lanes set, FairShare backlogs and
    MaxQueued's list share the docket's hash tag (one slot) on a cluster; the
    priority-9 task starts before the priority-5 ones and the priority-1 task
    after them, and every FairShare task runs once."""
    STARTS.clear()
    docket.register(ranked)
    docket.register(render)
    for label in ("five-a", "five-b", "five-c"):
        await docket.add(ranked)(label)
    await docket.add(ranked, priority=1)("one")
    await docket.add(ranked, priority=9)("nine")
    for n in range(14):  # beyond the release window of 10: 4 wait in backlogs
        await docket.add(render)(f"r{n}", "big" if n < 12 else "small")
    suffixes = await keys_in_one_slot(docket)
    assert {"lane:9", "lane:1", "lanes"} <= suffixes
    assert "fair:tasks" in suffixes
    assert any(suffix.startswith("fair:q:") for suffix in suffixes), suffixes
    await worker.run_until_finished()
    plain = [label for label in STARTS if ":" not in label]
    assert plain[0] == "nine" and plain[-1] == "one", STARTS
    fair = sorted(label for label in STARTS if ":" in label)
    assert fair == sorted(f"{'big' if n < 12 else 'small'}:r{n}" for n in range(14)), (
        STARTS
    )
