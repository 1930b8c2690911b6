"""Names importable where pydocket 0.27.2 has them, and the engines behind two of
them: ``docket.execution.schedule_many`` and the CLI command functions called
directly with the reference's ``docket_`` keyword. On memory:// and redis-server.
(tests/core/test_compat_manifest.py checks every name; these run what they name.)"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

import docket.agenda
import docket.cli
import docket.docket
import docket.instrumentation
import docket.tasks
import docket.testing
import docket.worker
from docket import Disposition, Docket, Execution, ExecutionState
from docket.cli import clear as clear_command
from docket.execution import schedule_many
from tests._support.servers import RedisServer


async def greet(name: str) -> str:
    return f"hello {name}"


def test_moved_names_are_the_same_objects():
    """Re-exports are the objects themselves, so patching or isinstance works."""
    assert docket.worker.TASKS_STARTED is docket.instrumentation.TASKS_STARTED
    assert docket.docket.TASKS_ADDED is docket.instrumentation.TASKS_ADDED
    assert docket.worker.Perpetual is docket.Perpetual
    assert docket.worker.TaskLogger is docket.TaskLogger
    assert docket.worker.CurrentExecution is docket.CurrentExecution
    for module in (docket.agenda, docket.tasks, docket.testing):
        assert module.Docket is Docket and module.Execution is Execution
    assert docket.tasks.Worker is docket.Worker
    assert docket.cli.LogLevel.INFO == "INFO" and docket.cli.LogFormat.JSON == "json"
    assert docket.cli.default_worker_name().rpartition("#")[2].isdigit()


async def test_schedule_many_places_built_executions(docket: Docket):
    """``schedule_many(redis, executions, replace=..., chunk_size=...)`` places each
    execution by its own schedule call: new keys SCHEDULED (queued or scheduled),
    a live key ALREADY_SCHEDULED; replace takes the last arguments."""
    now = datetime.now(timezone.utc)
    later = now + timedelta(hours=1)
    docket.register(greet)
    executions = [
        Execution(docket, greet, ("a",), {}, "many-a", now, 1),
        Execution(docket, greet, ("b",), {}, "many-b", later, 1),
        Execution(docket, greet, ("again",), {}, "many-a", now, 1),
    ]
    async with docket.redis() as redis:
        await schedule_many(redis, executions, replace=False, chunk_size=2)
    assert [e.disposition for e in executions] == [
        Disposition.SCHEDULED,
        Disposition.SCHEDULED,
        Disposition.ALREADY_SCHEDULED,
    ]
    assert executions[0].state is ExecutionState.QUEUED
    assert executions[1].state is ExecutionState.SCHEDULED
    replacing = [Execution(docket, greet, ("new",), {}, "many-b", later, 1)]
    async with docket.redis() as redis:
        await schedule_many(redis, replacing, replace=True)
    stored = await docket.get_execution("many-b")
    assert stored is not None and stored.args == ("new",)
    assert (await docket.snapshot()).total_tasks == 2


async def test_schedule_many_refuses_a_chunk_size_below_one(docket: Docket):
    """A chunk size below 1 is a ValueError before anything is placed; an empty
    batch does nothing."""
    execution = Execution(
        docket, greet, ("a",), {}, "never", datetime.now(timezone.utc), 1
    )
    async with docket.redis() as redis:
        with pytest.raises(ValueError, match="chunk_size must be at least 1, got 0"):
            await schedule_many(redis, [execution], replace=False, chunk_size=0)
        await schedule_many(redis, [], replace=False)
    assert execution.disposition is Disposition.LOADED
    assert await docket.get_execution("never") is None


async def test_cli_commands_take_docket_underscore(
    redis_server: RedisServer, docket_name: str, capsys: pytest.CaptureFixture[str]
):
    """The command functions, called directly as code written for the reference
    does, take the docket name as ``docket_`` (a real server: the command runs
    its own event loop, which a memory:// engine of this one would not share)."""
    url = redis_server.url
    async with Docket(name=docket_name, url=url) as docket:
        docket.register(greet)
        await docket.add(greet, when=datetime.now(timezone.utc) + timedelta(hours=1))(
            "x"
        )
        await asyncio.to_thread(lambda: clear_command(docket_=docket_name, url=url))
        assert "Cleared 1 tasks" in capsys.readouterr().out
        assert (await docket.snapshot()).total_tasks == 0
