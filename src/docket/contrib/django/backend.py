"""``DocketBackend``: Django's Tasks API on Docket.

``enqueue`` checks the task and its arguments as Django specifies (the task
function at module level, JSON arguments: ``TaskResult`` normalizes them and
raises ``TypeError``/``ValueError`` for what JSON cannot hold), then adds the
call to the Docket of its queue under the task's module path, keyed by the
result id. ``get_result`` reads the run back (see ``_reading``). Both work from
synchronous and asynchronous code: the Docket calls run on the process's portal
loop (``_portal``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from docket import Docket, Execution
from docket.execution import Disposition

from ._compat import (
    BaseTaskBackend,
    InvalidTask,
    TaskError,
    TaskResult,
    TaskResultDoesNotExist,
    TaskResultStatus,
    task_enqueued,
)
from ._django_time import for_django, for_docket
from ._outcome import TaskStruck, class_path, enqueued_at, new_result_id
from ._portal import portal
from ._reading import task_result
from ._settings import DocketSettings
from ._tasks import NotADjangoTask, task_at


@dataclass(frozen=True)
class _Call:
    """One enqueue, checked and ready for Docket."""

    result: Any  # the TaskResult enqueue returns
    when: datetime  # when the task is due (aware)


class DocketBackend(BaseTaskBackend):
    """A Django Tasks backend on Docket (``TASKS = {"default": {"BACKEND":
    "docket.contrib.django.DocketBackend", "QUEUES": [...], "OPTIONS": {"url":
    ..., "name": ...}}}``). Each queue is a Docket; ``manage.py docket_worker``
    runs them."""

    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    # Docket does not order tasks by priority yet. A backend that cannot honour
    # priorities says so, and Django then refuses a task defined or used with a
    # priority other than the default (InvalidTask), as Django specifies. When
    # Docket orders by priority, set this True and pass the task's priority in
    # ``_add`` (the one place a task reaches Docket).
    supports_priority = False

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        self.settings = DocketSettings.parse(alias, self.queues, self.options)

    def docket_name(self, queue_name: str) -> str:
        """The name of the Docket that holds ``queue_name``."""
        return self.settings.docket_name(queue_name)

    async def docket(self, queue_name: str) -> Docket:
        """The process's open Docket for ``queue_name`` (call on the portal's
        loop, through ``portal.call``/``portal.acall``)."""
        return await portal.docket(
            self.settings.key(queue_name),
            lambda: self.settings.make_docket(queue_name),
        )

    # ---- enqueueing ----------------------------------------------------------------

    def _prepare(self, task: Any, args: Any, kwargs: Any) -> _Call:
        self.validate_task(task)
        try:
            found = task_at(task.module_path)
        except NotADjangoTask as problem:
            raise InvalidTask(
                f"Task {task.module_path!r} must be reachable at its module path, "
                f"where workers import it from: {problem}"
            ) from None
        if found.func is not task.func:
            raise InvalidTask(
                f"{task.module_path!r} is another task than the one enqueued: "
                "workers import a task from its module path"
            )
        result_id, moment = new_result_id()
        result = TaskResult(  # normalizes the arguments, or raises for non-JSON ones
            task=task,
            id=result_id,
            status=TaskResultStatus.READY,
            enqueued_at=for_django(moment),
            started_at=None,
            finished_at=None,
            last_attempted_at=None,
            args=args,
            kwargs=kwargs,
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )
        when = moment if task.run_after is None else for_docket(task.run_after)
        return _Call(result, when)

    async def _add(self, call: _Call) -> Execution:
        result = call.result
        task = result.task
        docket = await self.docket(task.queue_name)
        name = task.module_path
        if docket.tasks.get(name) is not task.func:
            docket.register(task.func, names=[name])
        return await docket.add(name, when=call.when, key=result.id)(
            *result.args, **result.kwargs
        )

    def _enqueued(self, call: _Call, execution: Execution) -> Any:
        result = call.result
        if execution.disposition is Disposition.STRUCK:
            docket_name = self.docket_name(result.task.queue_name)
            text = (
                f"{class_path(TaskStruck())}: a strike rule of docket "
                f"{docket_name!r} refused {result.task.module_path!r}; it was not "
                "enqueued\n"
            )
            object.__setattr__(result, "status", TaskResultStatus.FAILED)
            result.errors.append(
                TaskError(exception_class_path=class_path(TaskStruck()), traceback=text)
            )
        return result

    def enqueue(self, task: Any, args: Any, kwargs: Any) -> Any:
        call = self._prepare(task, args, kwargs)
        result = self._enqueued(call, portal.call(self._add(call)))
        if result.status == TaskResultStatus.READY:
            task_enqueued.send(type(self), task_result=result)
        return result

    async def aenqueue(self, task: Any, args: Any, kwargs: Any) -> Any:
        call = self._prepare(task, args, kwargs)
        result = self._enqueued(call, await portal.acall(self._add(call)))
        if result.status == TaskResultStatus.READY:
            await task_enqueued.asend(type(self), task_result=result)
        return result

    # ---- results -------------------------------------------------------------------

    async def _read(self, result_id: str) -> Any:
        moment = enqueued_at(result_id) if isinstance(result_id, str) else None  # pyright: ignore[reportUnnecessaryIsInstance]
        if moment is None:
            raise TaskResultDoesNotExist(result_id)
        queues = self.settings.queues

        async def look(queue: str) -> Execution | None:
            return await (await self.docket(queue)).get_execution(result_id)

        found = await asyncio.gather(*(look(queue) for queue in queues))
        for queue, execution in zip(queues, found, strict=True):
            if execution is not None:
                return await task_result(self.alias, queue, moment, execution)
        raise TaskResultDoesNotExist(result_id)

    def get_result(self, result_id: str) -> Any:
        return portal.call(self._read(result_id))

    async def aget_result(self, result_id: str) -> Any:
        return await portal.acall(self._read(result_id))


__all__ = ["DocketBackend"]
