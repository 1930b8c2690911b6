"""Constructors, parameters and values that code written for pydocket 0.27.2 uses
as it is: ``credential_provider`` in its positional place, the version it reports,
mutable snapshot values, ``RunningExecution(execution, worker, started)``, the
heartbeat key names on the Worker, ``expected_generation`` and ``sync``, and the
reference's keyword names. Each runs on memory:// and a real redis-server."""

from __future__ import annotations

import asyncio
import inspect
from datetime import datetime, timedelta, timezone
from importlib.metadata import version
from typing import Annotated

import pytest
from typer.testing import CliRunner

import docket as package
from docket import (
    Depends,
    Disposition,
    Docket,
    Execution,
    ExecutionState,
    Logged,
    StrikeList,
    Worker,
)
from docket.annotations import Annotation
from docket.cli import app
from docket.docket import RunningExecution
from tests._support.credentials import NeverAsked, RotatingPassword
from tests._support.timings import FAST
from tests.conftest import eventually


async def greet(name: str) -> str:
    return f"hello {name}"


# ---- credential_provider ------------------------------------------------------------


async def test_credential_provider_is_the_eighth_positional_argument(
    docket_url: str, docket_name: str, backend: str
):
    """``Docket(name, url, heartbeat_interval, missed_heartbeats, execution_ttl,
    result_storage, enable_internal_instrumentation, credential_provider)``: the
    eighth argument is the provider (it used to land in ``connection_pool``). On
    redis:// every connection asks it; memory:// never does."""
    provider = (
        NeverAsked() if backend == "memory" else RotatingPassword("default", "any")
    )
    docket = Docket(
        docket_name,
        docket_url,
        timedelta(seconds=2),
        5,
        timedelta(minutes=15),
        None,
        False,
        provider,
    )
    assert docket.credential_provider is provider
    async with docket:
        execution = await docket.add(greet)("you")
        async with Worker(docket, **FAST) as worker:
            await worker.run_until_finished()
        assert await execution.get_result(timeout=timedelta(seconds=5)) == "hello you"
    if isinstance(provider, RotatingPassword):
        assert provider.asked >= 2  # data and pub/sub connections


@pytest.mark.parametrize(
    "url",
    [
        "memory://user:secret@here",
        "redis://user:secret@127.0.0.1:1/0",
        "redis://127.0.0.1:1/0?password=secret",
        "redis+cluster://:secret@127.0.0.1:1",
        "redis+sentinel://user:secret@127.0.0.1:1/service",
    ],
)
def test_credentials_in_the_url_and_a_provider_are_refused(url: str):
    """A URL with credentials and a provider: ``ValueError`` at construction, for
    every scheme, naming neither secret."""
    provider = RotatingPassword("user", "other")
    message = "Pass credentials in the URL or in credential_provider, not both"
    with pytest.raises(ValueError, match=message) as raised:
        Docket(name="d", url=url, credential_provider=provider)
    assert "secret" not in str(raised.value)
    with pytest.raises(ValueError, match=message):
        StrikeList(url, "d", False, provider)


def test_a_provider_and_a_connection_pool_are_refused():
    """The provider cannot reach the connections of a pool the caller built."""
    import redis.asyncio as aioredis

    pool = aioredis.ConnectionPool.from_url("redis://127.0.0.1:1/0")
    with pytest.raises(ValueError, match="connection_pool"):
        Docket(
            url="redis://127.0.0.1:1/0",
            credential_provider=RotatingPassword("u", "p"),
            connection_pool=pool,
        )


# ---- version identity -----------------------------------------------------------------


def test_version_is_the_pydocket_api_level():
    """``__version__`` is the pydocket release whose API we implement, so
    version-gated code takes the branch for it; ours is
    ``__implementation_version__``; ``docket version`` prints the former."""
    assert package.__version__ == "0.27.2"
    assert package.__implementation_version__ == version("docket")
    assert package.__implementation_version__ != package.__version__
    result = CliRunner().invoke(app, ["version"])
    assert result.exit_code == 0 and result.output.strip() == "0.27.2"


# ---- snapshots and running executions ---------------------------------------------------


async def test_snapshot_values_can_be_changed(docket: Docket):
    """DocketSnapshot and WorkerInfo are plain (mutable) dataclasses, as in the
    reference: code and tests adjust them after taking them."""
    release = asyncio.Event()

    async def hold() -> None:
        await release.wait()

    docket.register(hold)
    await docket.add(hold, key="held")()
    async with Worker(docket, **FAST) as worker:
        run = asyncio.ensure_future(worker.run_until_finished())
        snapshot = await eventually(
            lambda: _with_running(docket), timeout=10
        )  # the task is running and the worker has a heartbeat
        snapshot.total_tasks = 99
        snapshot.running = []
        (info,) = [w for w in snapshot.workers if w.name == worker.name]
        info.tasks.add("patched")
        info.last_seen = datetime(2000, 1, 1, tzinfo=timezone.utc)
        info.name = "renamed"
        assert (snapshot.total_tasks, snapshot.running) == (99, [])
        assert info.name == "renamed" and "patched" in info.tasks
        release.set()
        await run


async def _with_running(docket: Docket):
    snapshot = await docket.snapshot()
    if snapshot.running and snapshot.workers:
        return snapshot
    return None


async def test_running_execution_wraps_an_execution(docket: Docket):
    """``RunningExecution(execution, worker, started)`` copies the execution (key,
    arguments, generation, state) and adds who runs it and since when; snapshots
    build theirs that way."""
    await docket.add(greet, key="wrapped")("you")
    execution = await docket.get_execution("wrapped")
    assert execution is not None
    started = datetime.now(timezone.utc)
    running = RunningExecution(execution, "worker-1", started)
    assert isinstance(running, Execution)
    assert (running.worker, running.started) == ("worker-1", started)
    assert (running.key, running.args, running.kwargs) == ("wrapped", ("you",), {})
    assert running.function is greet and running.state is execution.state
    assert running.generation == execution.generation
    assert running.when == execution.when


# ---- the Worker's heartbeat keys --------------------------------------------------------


async def test_worker_names_the_heartbeat_keys_like_its_docket(docket: Docket):
    """``Worker.workers_set``, ``worker_tasks_set(name)`` and
    ``task_workers_set(name)`` are the docket's keys; a running worker's heartbeat
    is found under them."""
    release = asyncio.Event()

    async def hold() -> None:
        await release.wait()

    docket.register(hold)
    await docket.add(hold)()
    async with Worker(docket, **FAST) as worker:
        assert worker.workers_set == docket.workers_set
        assert worker.worker_tasks_set("w") == docket.worker_tasks_set("w")
        assert worker.task_workers_set("hold") == docket.task_workers_set("hold")
        run = asyncio.ensure_future(worker.run_until_finished())

        async def listed() -> bool:
            async with docket.redis() as client:
                seen = await client.zscore(worker.workers_set, worker.name)
                able = await client.zscore(worker.task_workers_set("hold"), worker.name)
                tasks = await client.smembers(worker.worker_tasks_set(worker.name))
            return seen is not None and able is not None and b"hold" in tasks

        try:
            await eventually(listed)
        finally:
            release.set()
            await run


# ---- expected_generation and sync ---------------------------------------------------------


async def test_a_stale_expected_generation_leaves_the_key_alone(docket: Docket):
    """``schedule(replace=True, expected_generation=N)`` writes nothing when Redis
    holds a newer generation (``SUPERSEDED``); with the current one it replaces."""
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    await docket.add(greet, when=later, key="gen")("first")  # generation 1
    await docket.replace(greet, when=later, key="gen")("second")  # generation 2

    stale = Execution(docket, greet, ("stale",), {}, "gen", later, 1)
    assert await stale.schedule(replace=True, expected_generation=1) is (
        Disposition.SUPERSEDED
    )
    assert stale.disposition is Disposition.SUPERSEDED
    kept = await docket.get_execution("gen")
    assert kept is not None and kept.args == ("second",)

    current = Execution(docket, greet, ("third",), {}, "gen", later, 1)
    placed = await current.schedule(replace=True, expected_generation=2)
    assert placed is Disposition.SCHEDULED
    replaced = await docket.get_execution("gen")
    assert replaced is not None and replaced.args == ("third",)
    assert replaced.generation == 3


async def test_from_message_can_skip_reading_the_record(docket: Docket):
    """``Execution.from_message(..., sync=False)`` rebuilds from the message alone;
    the default reads the run record's state."""
    execution = await docket.add(greet, key="synced")("you")
    message = execution.as_message()
    unsynced = await Execution.from_message(docket, message, sync=False)
    assert unsynced.key == "synced" and unsynced.state is ExecutionState.SCHEDULED
    synced = await Execution.from_message(docket, message)
    assert synced.state is ExecutionState.QUEUED


# ---- keyword names -------------------------------------------------------------------------


async def test_depends_takes_its_function_as_dependency(docket: Docket):
    """``Depends(dependency=...)``: the reference's keyword works in a task run."""

    def forty_two() -> int:
        return 42

    async def answer(value: int = Depends(dependency=forty_two)) -> int:
        return value

    execution = await docket.add(answer)()
    async with Worker(docket, **FAST) as worker:
        await worker.run_until_finished()
    assert await execution.get_result(timeout=timedelta(seconds=5)) == 42


def test_logged_format_takes_argument():
    """``Logged.format(argument=...)`` is the reference's keyword."""
    assert Logged(length_only=True).format(argument=[1, 2, 3]) == "[len 3]"
    assert Logged().format(argument="x") == "'x'"


def test_annotated_parameters_of_a_signature():
    """Given an ``inspect.Signature`` (as the reference takes it), the annotated
    parameters are found, bare classes as default instances."""

    async def task(
        a: Annotated[str, Logged],
        b: Annotated[list[int], Logged(length_only=True)],
        c: int,
    ) -> None: ...

    signature = inspect.signature(task, eval_str=True)  # annotations are strings here
    found = Logged.annotated_parameters(signature)
    assert found == {"a": Logged(), "b": Logged(length_only=True)}
    assert Annotation.annotated_parameters(signature).keys() == {
        "a",
        "b",
    }
    assert Logged.annotated_parameters(task) == found  # a function still works
