"""The isolation metrics, as ``docket.instrumentation``'s instruments record them."""

from __future__ import annotations

from collections.abc import Callable

from docket import Docket, Worker
from tests._support import isolated_tasks as t
from tests.isolation.conftest import outcome
from tests.operations.test_observability_instruments import Recording, recorded

__all__ = ["recorded"]


async def test_children_restarts_and_timeouts_are_counted(
    docket: Docket, recorded: Callable[[str], Recording]
) -> None:
    """Children alive go up as the pool starts and down as one is killed; the
    restart is counted with its cause and the pool; a Timeout kill is counted."""
    children = recorded("ISOLATED_CHILDREN")
    restarts = recorded("ISOLATED_RESTARTS")
    timeouts = recorded("ISOLATED_TIMEOUTS")
    docket.register(t.spin)
    docket.register(t.exits)
    async with Worker(docket, isolated_processes=1) as worker:
        spinning = await docket.add(t.spin)()
        exiting = await docket.add(t.exits)()
        await worker.run_until_finished()
        assert (await outcome(spinning))[0] == (await outcome(exiting))[0] == "failed"
    causes = sorted(attributes["cause"] for _, attributes in restarts.calls)
    assert causes == ["exit", "timeout"]
    assert all(a["docket.pool"] == "default" for _, a in restarts.calls)
    assert [amount for amount, _ in timeouts.calls] == [1]
    ups = sum(1 for amount, _ in children.calls if amount == 1)
    downs = sum(1 for amount, _ in children.calls if amount == -1)
    # The first child and its replacements (the last may be cancelled while it
    # starts, as the worker stops): each one that started is counted down.
    assert ups == downs >= 2
    assert all(a["docket.worker"] == worker.name for _, a in children.calls)
