"""Running Django tasks inside a Docket worker.

``run_django_task`` is the worker's fallback task: a Docket message of a Django
task is named by the task's module path, which no worker registers, so the
fallback receives it, imports the task from that path and runs it as Django's
request cycle runs a view: stale database connections are closed before and
after (``close_old_connections``), a plain function runs in a thread off the
event loop (a coroutine on it), and ``task_started``/``task_finished`` are sent.

Success returns the return value (normalized to JSON, as Django specifies) with
the call's arguments; an exception is re-raised as ``TaskFailed`` (its class
path, traceback and the arguments), so the Docket run fails and
``get_result`` reports it. A message whose name is not a Django task fails the
same way, with the reason."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from docket import CurrentExecution, CurrentWorker, Execution, Worker

from ._compat import (
    TaskContext,
    TaskError,
    TaskResult,
    TaskResultStatus,
    normalize_json,
    task_backends,
    task_finished,
    task_started,
)
from ._django_time import for_django
from ._outcome import TaskFailed, enqueued_at, success_document
from ._tasks import task_at
from .backend import DocketBackend


def ensure_django() -> None:
    """Set Django up once (for a worker started outside ``manage.py``)."""
    from django.apps import apps

    if not apps.ready:
        import django

        django.setup()


def _backend_for(docket_name: str) -> tuple[str, str] | None:
    """The (alias, queue) of this project's DocketBackend whose queue is the
    Docket ``docket_name``."""
    from django.conf import settings

    for alias in getattr(settings, "TASKS", {}) or {}:
        backend = task_backends[alias]
        if isinstance(backend, DocketBackend):
            queue = backend.settings.queue_of(docket_name)
            if queue is not None:
                return alias, queue
    return None


def _close_old_connections() -> None:
    from django.db import close_old_connections

    close_old_connections()


def _finish(result: Any, error: BaseException | None) -> None:
    object.__setattr__(result, "finished_at", for_django(_now()))
    if error is None:
        object.__setattr__(result, "status", TaskResultStatus.SUCCESSFUL)
    else:
        object.__setattr__(result, "status", TaskResultStatus.FAILED)
        failure = TaskFailed.of(error, result.args, result.kwargs)
        result.errors.append(
            TaskError(
                exception_class_path=failure.exception_class_path,
                traceback=failure.traceback,
            )
        )


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _run_sync(function: Callable[..., Any], result: Any, call: list[Any]) -> Any:
    """A plain task, in a worker thread, as a request: connections checked
    before and after, signals sent from this thread."""
    _close_old_connections()
    try:
        task_started.send(type(result.task.get_backend()), task_result=result)
        try:
            value = normalize_json(function(*call, **result.kwargs))
        except BaseException as error:  # as Django's ImmediateBackend: all of them
            _finish(result, error)
            task_finished.send(type(result.task.get_backend()), task_result=result)
            raise
        _finish(result, None)
        task_finished.send(type(result.task.get_backend()), task_result=result)
        return value
    finally:
        _close_old_connections()


async def _run_async(function: Callable[..., Any], result: Any, call: list[Any]) -> Any:
    """A coroutine task, on the worker's loop; connections are checked through
    ``sync_to_async`` as Django's ASGI handler does."""
    from asgiref.sync import sync_to_async

    sender = type(result.task.get_backend())
    await sync_to_async(_close_old_connections)()
    try:
        await task_started.asend(sender, task_result=result)
        try:
            value = normalize_json(await function(*call, **result.kwargs))
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise  # the worker cancels it, or stops: Docket records that
        except BaseException as error:
            _finish(result, error)
            await task_finished.asend(sender, task_result=result)
            raise
        _finish(result, None)
        await task_finished.asend(sender, task_result=result)
        return value
    finally:
        await sync_to_async(_close_old_connections)()


async def run_django_task(
    *args: Any,
    docket_execution__: Execution = CurrentExecution(),
    docket_worker__: Worker = CurrentWorker(),
    **kwargs: Any,
) -> dict[str, Any]:
    """Run the Django task a Docket message names (the worker's fallback task)."""
    execution, worker = docket_execution__, docket_worker__
    call_args, call_kwargs = list(args), dict(kwargs)
    try:
        ensure_django()
        task = task_at(execution.function_name)
        place = _backend_for(execution.docket.name)
        if place is None:
            raise LookupError(
                f"Docket {execution.docket.name!r} is not a queue of any "
                "DocketBackend in this project's TASKS"
            )
        alias, queue = place
        task = task.using(backend=alias, queue_name=queue)
    except Exception as problem:
        raise TaskFailed.of(problem, call_args, call_kwargs) from problem
    started = for_django(_now())
    result = TaskResult(
        task=task,
        id=execution.key,
        status=TaskResultStatus.RUNNING,
        enqueued_at=for_django(enqueued_at(execution.key)),
        started_at=started,
        finished_at=None,
        last_attempted_at=started,
        args=call_args,
        kwargs=call_kwargs,
        backend=alias,
        errors=[],
        worker_ids=[worker.name],
    )
    call = list(result.args)
    if task.takes_context:
        call.insert(0, TaskContext(task_result=result))
    try:
        if inspect.iscoroutinefunction(task.func):
            value = await _run_async(task.func, result, call)
        else:
            context = contextvars.copy_context()
            function = task.func

            def body() -> Any:
                return context.run(_run_sync, function, result, call)

            value = await asyncio.get_running_loop().run_in_executor(None, body)
    except (asyncio.CancelledError, KeyboardInterrupt):
        raise
    except BaseException as error:
        raise TaskFailed.of(error, result.args, result.kwargs) from error
    return success_document(value, result.args, result.kwargs)


__all__ = ["ensure_django", "run_django_task"]
