"""DocketBackend through Django's Tasks API, in this process: enqueue and
aenqueue, results of every kind, deferred tasks, queues, and the errors Django
specifies for what a backend refuses."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from docket import Docket, ExecutionState
from docket.contrib.django import DocketBackend
from docket.contrib.django._compat import (
    InvalidTask,
    TaskResultDoesNotExist,
    TaskResultStatus,
)
from tests._support.servers import RedisServer
from tests.contrib.django.conftest import run_queues


async def _execution(url: str, name: str, key: str) -> Any:
    async with Docket(name=name, url=url) as docket:
        return await docket.get_execution(key)


def test_backend_says_what_it_supports(backend: DocketBackend) -> None:
    """Deferral, async tasks and results from any process; no priorities yet."""
    assert isinstance(backend, DocketBackend)
    assert backend.supports_defer and backend.supports_async_task
    assert backend.supports_get_result
    assert not backend.supports_priority


def test_enqueue_stores_a_ready_task(
    backend: DocketBackend, redis_server: RedisServer, docket_prefix: str
) -> None:
    """enqueue returns a READY result (a UUIDv7 id naming when it was enqueued,
    arguments normalized to JSON) and the task waits in the queue's Docket,
    keyed by that id under the task's module path."""
    from shop.tasks import add

    before = datetime.now(timezone.utc) - timedelta(milliseconds=1)
    result = add.enqueue((1, 2), b=3)
    after = datetime.now(timezone.utc)
    assert result.status == TaskResultStatus.READY
    assert uuid.UUID(result.id).version == 7
    assert before <= result.enqueued_at <= after
    assert result.args == [[1, 2]] and result.kwargs == {"b": 3}
    assert result.started_at is None and result.finished_at is None
    assert result.worker_ids == [] and result.errors == []
    execution = asyncio.run(_execution(redis_server.url, docket_prefix, result.id))
    assert execution.function_name == "shop.tasks.add"
    assert execution.state is ExecutionState.QUEUED
    assert execution.args == ([1, 2],) and execution.kwargs == {"b": 3}
    read = add.get_result(result.id)
    assert read.status == TaskResultStatus.READY
    assert read.args == [[1, 2]] and read.kwargs == {"b": 3}
    assert read.enqueued_at == result.enqueued_at
    assert read.task.func is add.func and read.task.run_after is None


def test_sync_async_and_context_tasks_succeed(backend: DocketBackend) -> None:
    """A worker runs a plain function, a coroutine and a task taking the
    context; get_result reports SUCCESSFUL, the return value, the times and
    the worker."""
    from shop.tasks import add, attempt, greet

    summed = add.enqueue(2, 3)
    greeted = greet.enqueue("Ann")
    contexted = attempt.enqueue("x")
    run_queues(backend, "default")
    result = add.get_result(summed.id)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 5
    assert result.args == [2, 3]
    assert result.enqueued_at <= result.started_at <= result.finished_at
    assert result.last_attempted_at == result.started_at
    assert len(result.worker_ids) == 1 and result.attempts == 1
    assert result.errors == []
    assert greet.get_result(greeted.id).return_value == "Hello, Ann!"
    context = attempt.get_result(contexted.id).return_value
    assert context == {"label": "x", "attempt": 1, "id": contexted.id}


def test_a_failing_task_reports_its_exception(backend: DocketBackend) -> None:
    """FAILED, with the exception's class path and its traceback; the
    arguments are still reported; return_value raises as Django specifies."""
    from shop.tasks import fail

    enqueued = fail.enqueue("apples")
    run_queues(backend, "default")
    result = fail.get_result(enqueued.id)
    assert result.status == TaskResultStatus.FAILED
    assert [e.exception_class_path for e in result.errors] == ["shop.tasks.OutOfStock"]
    traceback = result.errors[0].traceback
    assert "Traceback (most recent call last)" in traceback
    assert "OutOfStock: no apples left" in traceback
    assert result.errors[0].exception_class.__name__ == "OutOfStock"
    assert result.args == ["apples"]
    assert result.finished_at is not None
    with pytest.raises(ValueError, match="Task failed"):
        _ = result.return_value


def test_a_return_value_json_cannot_hold_fails_the_task(backend: DocketBackend) -> None:
    """As Django's own backends do: the run is FAILED with the TypeError."""
    from shop.tasks import not_json

    enqueued = not_json.enqueue()
    run_queues(backend, "default")
    result = not_json.get_result(enqueued.id)
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[0].exception_class_path == "builtins.TypeError"


def test_a_deferred_task_waits_for_run_after(backend: DocketBackend) -> None:
    """run_after defers the task: READY with its run_after until a worker runs
    it, never before that time."""
    from shop.tasks import add

    run_after = datetime.now(timezone.utc) + timedelta(seconds=1)
    enqueued = add.using(run_after=run_after).enqueue(1, 1)
    waiting = add.get_result(enqueued.id)
    assert waiting.status == TaskResultStatus.READY
    assert abs(waiting.task.run_after - run_after) < timedelta(milliseconds=1)
    run_queues(backend, "default")
    done = add.get_result(enqueued.id)
    assert done.status == TaskResultStatus.SUCCESSFUL and done.return_value == 2
    assert done.started_at >= run_after
    assert abs(done.task.run_after - run_after) < timedelta(milliseconds=1)


def test_each_queue_is_its_own_docket(
    backend: DocketBackend, redis_server: RedisServer, docket_prefix: str
) -> None:
    """The default queue is the Docket named by OPTIONS['name'], another queue
    q is '<name>.q': a worker of the default queue leaves the emails queue's
    tasks alone."""
    from shop.tasks import send_email

    assert backend.docket_name("default") == docket_prefix
    assert backend.docket_name("emails") == f"{docket_prefix}.emails"
    enqueued = send_email.enqueue("a@example.com")
    execution = asyncio.run(
        _execution(redis_server.url, f"{docket_prefix}.emails", enqueued.id)
    )
    assert execution is not None and execution.function_name == "shop.tasks.send_email"
    run_queues(backend, "default")
    assert send_email.get_result(enqueued.id).status == TaskResultStatus.READY
    run_queues(backend, "emails")
    result = send_email.get_result(enqueued.id)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.task.queue_name == "emails"
    assert result.return_value == "sent to a@example.com"


async def test_aenqueue_and_aget_result_from_async_code(backend: DocketBackend) -> None:
    """The async API works from a running event loop (without blocking it)."""
    from shop.tasks import greet

    enqueued = await greet.aenqueue("Bo")
    assert (await greet.aget_result(enqueued.id)).status == TaskResultStatus.READY
    await asyncio.to_thread(run_queues, backend, "default")
    result = await greet.aget_result(enqueued.id)
    assert result.return_value == "Hello, Bo!"
    await result.arefresh()
    assert result.status == TaskResultStatus.SUCCESSFUL


def test_arguments_json_cannot_hold_are_refused_before_anything_is_stored(
    backend: DocketBackend, redis_server: RedisServer, docket_prefix: str
) -> None:
    """As Django specifies, enqueue raises TypeError (or ValueError) for
    arguments JSON cannot hold; nothing reaches Redis."""
    from shop.tasks import add

    with pytest.raises(TypeError):
        add.enqueue(datetime.now(timezone.utc), 1)
    with pytest.raises(ValueError):
        add.enqueue(b"\xff", 1)
    keys = redis_server.cli("KEYS", f"{docket_prefix}*")
    assert keys.strip() == ""


def test_what_django_refuses_is_refused(backend: DocketBackend) -> None:
    """A priority (not honoured yet, so refused as Django specifies for such a
    backend), an unknown queue, a naive run_after under USE_TZ."""
    from shop.tasks import add

    with pytest.raises(InvalidTask, match="priority"):
        add.using(priority=10)
    with pytest.raises(InvalidTask, match="Queue 'nope'"):
        add.using(queue_name="nope")
    with pytest.raises(InvalidTask, match="aware"):
        add.using(run_after=datetime.now())


def test_a_task_workers_cannot_import_is_refused_at_enqueue(
    backend: DocketBackend,
) -> None:
    """A task bound to a name other than its function's cannot be imported by
    a worker from its module path: enqueue says so instead of failing later."""
    import shop.tasks

    def hidden(a: int) -> int:
        return a

    hidden.__module__, hidden.__qualname__ = "shop.tasks", "hidden_function"
    renamed = shop.tasks.task(hidden)  # Django's decorator, not at its name
    shop.tasks.renamed = renamed  # type: ignore[attr-defined]
    try:
        with pytest.raises(InvalidTask, match="module path"):
            renamed.enqueue(1)
    finally:
        del shop.tasks.renamed  # type: ignore[attr-defined]


def test_unknown_ids_do_not_exist(backend: DocketBackend) -> None:
    """An id nobody enqueued, or a string that is not one of our ids."""
    from shop.tasks import add

    with pytest.raises(TaskResultDoesNotExist):
        backend.get_result("0197c1f4-0000-7000-8000-000000000000")
    with pytest.raises(TaskResultDoesNotExist):
        add.get_result("not-an-id")


def test_get_result_of_another_task_is_a_mismatch(backend: DocketBackend) -> None:
    """Task.get_result checks the result belongs to that task (Django's rule,
    which needs the stored task to be the same function)."""
    from shop.tasks import add, greet

    enqueued = add.enqueue(1, 2)
    with pytest.raises(Exception, match="Task does not match"):
        greet.get_result(enqueued.id)
