"""A Docket execution read back as Django's ``TaskResult``.

States map as: scheduled or queued -> READY, running -> RUNNING, completed ->
SUCCESSFUL, failed -> FAILED, cancelled (``docket.cancel``) -> FAILED with a
``docket._states.ExecutionCancelled`` error. ``enqueued_at`` is the moment in
the result id; ``started_at`` and ``last_attempted_at`` the run's start;
``finished_at`` its end; ``worker_ids`` the worker that ran it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from docket import Execution
from docket.execution import ExecutionState

from ._compat import (
    TaskError,
    TaskResult,
    TaskResultDoesNotExist,
    TaskResultStatus,
)
from ._django_time import for_django
from ._outcome import TaskFailed, class_path, is_success_document
from ._tasks import NotADjangoTask, task_at

# A run_after this close to the enqueue moment was not asked for: a task
# enqueued without one is scheduled at exactly that moment.
SAME_MOMENT = timedelta(milliseconds=1)

STATUS = {
    ExecutionState.SCHEDULED: TaskResultStatus.READY,
    ExecutionState.WAITING: TaskResultStatus.READY,
    ExecutionState.QUEUED: TaskResultStatus.READY,
    ExecutionState.RUNNING: TaskResultStatus.RUNNING,
    ExecutionState.COMPLETED: TaskResultStatus.SUCCESSFUL,
    ExecutionState.FAILED: TaskResultStatus.FAILED,
    ExecutionState.CANCELLED: TaskResultStatus.FAILED,
}


def _error(failure: BaseException) -> Any:
    if isinstance(failure, TaskFailed):
        return TaskError(
            exception_class_path=failure.exception_class_path,
            traceback=failure.traceback,
        )
    return TaskError(
        exception_class_path=class_path(failure),
        traceback=f"{class_path(failure)}: {failure}\n",
    )


async def task_result(
    alias: str, queue: str, enqueued: datetime, execution: Execution
) -> Any:
    """The ``TaskResult`` of ``execution``, enqueued at ``enqueued`` on
    ``queue`` through backend ``alias``."""
    try:
        found = task_at(execution.function_name)
    except NotADjangoTask as problem:
        raise TaskResultDoesNotExist(f"{execution.key}: {problem}") from None
    status = STATUS.get(execution.state, TaskResultStatus.READY)
    call_args: list[Any] = list(execution.args)
    call_kwargs: dict[str, Any] = dict(execution.kwargs)
    errors: list[Any] = []
    value: Any = None
    if execution.state is ExecutionState.COMPLETED:
        outcome = await execution.get_result()
        if is_success_document(outcome):
            value = outcome["return_value"]
            call_args, call_kwargs = list(outcome["args"]), dict(outcome["kwargs"])
        else:
            value = outcome
    elif execution.state in (ExecutionState.FAILED, ExecutionState.CANCELLED):
        try:
            await execution.get_result()
        except Exception as failure:  # the stored exception, or why there is none
            errors.append(_error(failure))
            if isinstance(failure, TaskFailed):
                call_args, call_kwargs = failure.call_args, failure.call_kwargs
    run_after = None if abs(execution.when - enqueued) < SAME_MOMENT else execution.when
    task = found.using(queue_name=queue, backend=alias, run_after=for_django(run_after))
    started = for_django(execution.started_at)
    finished = None
    if status in (TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED):
        finished = for_django(execution.completed_at)
    result = TaskResult(
        task=task,
        id=execution.key,
        status=status,
        enqueued_at=for_django(enqueued),
        started_at=started,
        finished_at=finished,
        last_attempted_at=started,
        args=call_args,
        kwargs=call_kwargs,
        backend=alias,
        errors=errors,
        worker_ids=[execution.worker] if execution.worker else [],
    )
    object.__setattr__(result, "_return_value", value)
    return result


__all__ = ["task_result"]
