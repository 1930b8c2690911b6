"""A redis-server outage met by the read a task's ``Checkpoint``, ``Signal``,
``Suspend`` or ``Parents`` makes as the task starts (or resumes): the read is
tried again until the server is back (its append-only file kept everything), and
the task completes once instead of failing on the dropped connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from docket import (
    Checkpoint,
    Docket,
    Execution,
    ExecutionState,
    Parents,
    Signal,
    Suspend,
    Worker,
)
from docket._broker.gates import GateStore
from docket._broker.mailbox import MailboxStore
from docket._broker.steps import StepStore
from tests._support.servers import RedisServer
from tests._support.timings import FAST
from tests._support.waits import Outage, outage_on, state
from tests.conftest import eventually

pytestmark = pytest.mark.slow

ran: list[str] = []


async def charge(steps: Checkpoint = Checkpoint()) -> str:
    if not await steps.done("charge"):
        ran.append("charge")
        await steps.mark("charge")
    return "charged"


async def approved(decision: str = Signal("go")) -> str:
    return f"approved {decision}"


async def resumed(suspend: Suspend = Suspend()) -> str:
    ran.append("top")
    return f"resumed {await suspend.for_signal('resume')}"


async def parent() -> int:
    return 2


async def follower(parents: dict[str, Execution] = Parents()) -> int:
    return sum([await execution.get_result() for execution in parents.values()])


@pytest.fixture
async def served(
    own_redis_server: RedisServer, docket_name: str
) -> AsyncIterator[Docket]:
    """A docket on the test's own redis-server, its tasks registered."""
    ran.clear()
    async with Docket(name=docket_name, url=own_redis_server.url) as docket:
        for task in (charge, approved, resumed, parent, follower):
            docket.register(task)
        yield docket


@asynccontextmanager
async def working(docket: Docket) -> AsyncIterator[None]:
    """A worker running in the background (reconnecting within 0.1 s)."""
    options = {**FAST, "reconnection_delay": timedelta(milliseconds=100)}
    async with Worker(docket, **options) as worker:
        running = asyncio.ensure_future(worker.run_forever())
        try:
            yield
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)


async def outcome(execution: Execution, outage: Outage) -> object:
    """The task's result once the outage has happened, the server is back and
    the task has ended (a read meeting a connection the restart dropped is
    asked again)."""
    await eventually(lambda: not outage.pending, timeout=20)
    await outage.over()

    async def ended() -> bool:
        try:
            await execution.sync()
        except RedisConnectionError:
            return False
        return execution.state in (ExecutionState.COMPLETED, ExecutionState.FAILED)

    await eventually(ended, timeout=30)
    return await execution.get_result()


async def test_the_checkpoint_read_as_the_task_starts(
    served: Docket, own_redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
):
    """The server goes away as a Checkpoint task reads its checkpoint at start:
    the task completes, its step done once."""
    outage = outage_on(monkeypatch, own_redis_server, StepStore, "read")
    execution = await served.add(charge)()
    async with working(served):
        assert await outcome(execution, outage) == "charged"
    assert ran == ["charge"]


async def test_a_signal_parameters_read_of_its_payload(
    served: Docket, own_redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
):
    """The server goes away as a task released by its signal reads the payload:
    the task runs once with it."""
    assert await served.signal("go", "yes") is False  # kept, taken by the add
    outage = outage_on(monkeypatch, own_redis_server, MailboxStore, "received")
    execution = await served.add(approved)()
    async with working(served):
        assert await outcome(execution, outage) == "approved yes"


async def test_the_resumed_attempts_read_of_what_its_wait_received(
    served: Docket, own_redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
):
    """The server goes away as an attempt resumed by its signal reads what the
    wait received: the task completes with the payload."""
    execution = await served.add(resumed, key="resumed")()
    async with working(served):
        await eventually(
            lambda: _waiting(served, "resumed") if ran == ["top"] else False
        )
        outage = outage_on(monkeypatch, own_redis_server, MailboxStore, "received")
        assert await served.signal("resume", "now") is True
        assert await outcome(execution, outage) == "resumed now"
    assert ran == ["top", "top"]


async def test_a_followers_read_of_its_parents(
    served: Docket, own_redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
):
    """The server goes away as a follower reads its gate for ``Parents()``: it
    runs once with its parent's result."""
    first = await served.add(parent, key="parent")()
    outage = outage_on(monkeypatch, own_redis_server, GateStore, "get")
    execution = await served.add(follower, after=[first])()
    async with working(served):
        assert await outcome(execution, outage) == 2
    assert await state(served, execution.key) is ExecutionState.COMPLETED


async def _waiting(docket: Docket, key: str) -> bool:
    return await state(docket, key) is ExecutionState.WAITING
