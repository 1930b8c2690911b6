"""Isolated tasks on an in-process worker: what crosses to the child and back."""

from __future__ import annotations

import logging
import os

import pytest

from docket import Docket, Worker
from tests._support import isolated_tasks as t
from tests.behaviours.test_progress_reporting import next_event
from tests.isolation.conftest import outcome


async def test_sync_and_async_bodies_run_in_a_child(
    docket: Docket, isolated_worker: Worker
) -> None:
    """Sync and async isolated bodies both run in another process, with their
    arguments, and their results come back; a plain task stays in the worker."""
    added = await docket.add(t.add)(2, 3)
    in_async = await docket.add(t.async_pid)()
    in_sync = await docket.add(t.sync_pid)()
    plain = await docket.add(t.plain_pid)()
    await isolated_worker.run_until_finished()
    assert await outcome(added) == ("completed", 5)
    _, async_pid = await outcome(in_async)
    _, sync_pid = await outcome(in_sync)
    assert async_pid != os.getpid() and sync_pid != os.getpid()
    assert async_pid == sync_pid  # one child in the default pool, reused
    assert await outcome(plain) == ("completed", os.getpid())


async def test_dependencies_are_resolved_in_the_worker(
    docket: Docket, isolated_worker: Worker
) -> None:
    """A Depends() value and the task key are resolved in the worker and sent."""
    execution = await docket.add(t.depends)()
    keyed = await docket.add(t.the_key, key="my-key")()
    await isolated_worker.run_until_finished()
    state, (value, pid) = await outcome(execution)
    assert (state, value) == ("completed", 42) and pid != os.getpid()
    assert await outcome(keyed) == ("completed", "my-key")


async def test_an_exception_comes_back_with_the_childs_traceback(
    docket: Docket, isolated_worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    """The body's exception fails the run as itself; the worker's ERROR line
    carries the child's traceback (its frames in the task's module)."""
    execution = await docket.add(t.raises)()
    with caplog.at_level(logging.ERROR, logger="docket.worker"):
        await isolated_worker.run_until_finished()
    state, error = await outcome(execution)
    assert state == "failed"
    assert isinstance(error, ValueError) and str(error) == "broken in the child"
    (record,) = [r for r in caplog.records if r.exc_info]
    text = logging.Formatter().formatException(record.exc_info)  # type: ignore[arg-type]
    assert "isolated_tasks.py" in text and 'raise ValueError("broken' in text


async def test_an_exception_that_does_not_pickle_comes_back_as_text(
    docket: Docket, isolated_worker: Worker
) -> None:
    """An exception the child cannot send fails the run with its type and text."""
    execution = await docket.add(t.raises_unpicklable)()
    await isolated_worker.run_until_finished()
    state, error = await outcome(execution)
    assert state == "failed"
    assert "Unpicklable: holds a lock" in str(error)


async def test_progress_comes_back(docket: Docket, isolated_worker: Worker) -> None:
    """Progress updates made in the child are written by the worker, in order,
    and published to the run's subscribers."""
    reporting = await docket.add(t.reports, key="reporting")()
    events = reporting.subscribe()
    try:
        initial = await next_event(events, "progress")
        assert (initial["current"], initial["total"]) == (None, 100)
        await isolated_worker.run_until_finished()
        seen = [await next_event(events, "progress") for _ in range(3)]
    finally:
        await events.aclose()
    assert [(e["current"], e["total"], e["message"]) for e in seen] == [
        (0, 4, None),
        (3, 4, None),
        (3, 4, "nearly there"),
    ]
    assert await outcome(reporting) == ("completed", 3)


async def test_logs_come_back(
    docket: Docket, isolated_worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    """The child's log records reach the worker's logging, with the task's
    logger name and fields."""
    execution = await docket.add(t.logs, key="logging-task")()
    with caplog.at_level(logging.INFO):
        await isolated_worker.run_until_finished()
    await outcome(execution)
    (record,) = [r for r in caplog.records if r.getMessage().startswith("hello from")]
    assert record.name == "docket.task.logs" and record.levelno == logging.WARNING
    assert str(os.getpid()) not in record.getMessage()
    assert getattr(record, "docket.key") == "logging-task"


async def test_a_timeout_extended_in_the_child_moves_the_workers_deadline(
    docket: Docket, isolated_worker: Worker
) -> None:
    """Timeout.extend() in the child pushes out the deadline the worker enforces."""
    await docket.add(t.noop)()  # the child imports the tasks' module first
    await isolated_worker.run_until_finished()
    execution = await docket.add(t.extends)()
    await isolated_worker.run_until_finished()
    state, remaining = await outcome(execution)
    assert state == "completed" and 0 < remaining < 3


async def test_named_pools_have_their_own_children(
    docket: Docket, isolated_worker: Worker
) -> None:
    """A task in pool 'heavy' runs in that pool's child, not the default's."""
    heavy = await docket.add(t.in_heavy)()
    default = await docket.add(t.sync_pid)()
    await isolated_worker.run_until_finished()
    _, heavy_pid = await outcome(heavy)
    _, default_pid = await outcome(default)
    assert heavy_pid != default_pid and os.getpid() not in (heavy_pid, default_pid)


async def test_an_unknown_pool_fails_the_run_clearly(
    docket: Docket, isolated_worker: Worker
) -> None:
    """A task naming a pool the worker does not have fails, saying how to add it."""
    execution = await docket.add(t.in_missing)()
    await isolated_worker.run_until_finished()
    state, error = await outcome(execution)
    assert state == "failed"
    assert "no isolated pool 'missing'" in str(error) and "--pool missing=N" in str(
        error
    )


async def test_a_value_that_cannot_cross_fails_the_run_naming_it(
    docket: Docket, isolated_worker: Worker
) -> None:
    """CurrentExecution() on an isolated task fails the run with a TypeError
    naming the parameter; the child stays available for the next task."""
    refused = await docket.add(t.wants_the_execution)()
    await isolated_worker.run_until_finished()
    after = await docket.add(t.add)(1, 2)
    await isolated_worker.run_until_finished()
    state, error = await outcome(refused)
    assert state == "failed" and isinstance(error, TypeError)
    assert "parameter 'execution' (Execution) cannot cross" in str(error)
    assert await outcome(after) == ("completed", 3)
    assert isolated_worker.isolation.restarts == {}
