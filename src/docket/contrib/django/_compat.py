"""The Tasks API this process has: Django 6's ``django.tasks``, else the
``django-tasks`` backport (Django 5.2). Everything else imports it from here.

The type checker reads the backport (typed, and the same API as Django 6's)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any


def _which() -> str:
    for name in ("django.tasks", "django_tasks"):
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        return name
    raise ImportError(
        "docket.contrib.django needs Django's Tasks API: Django 6 (django.tasks), "
        "or on Django 5.2 the django-tasks backport. Install it with: "
        "pip install 'docket[django]'"
    )


API = _which()

if TYPE_CHECKING:
    from django_tasks import TaskContext, TaskResult, TaskResultStatus, task_backends
    from django_tasks.backends.base import BaseTaskBackend
    from django_tasks.base import Task, TaskError
    from django_tasks.exceptions import InvalidTaskBackendError as InvalidTaskBackend
    from django_tasks.exceptions import InvalidTaskError as InvalidTask
    from django_tasks.exceptions import TaskResultDoesNotExist
    from django_tasks.signals import task_enqueued, task_finished, task_started
    from django_tasks.utils import normalize_json
else:

    def _load(module: str, name: str, *, backport: str | None = None) -> Any:
        if API == "django.tasks":
            return getattr(importlib.import_module(f"django.tasks{module}"), name)
        return getattr(
            importlib.import_module(f"django_tasks{module}"),
            backport or name,
        )

    TaskContext = _load("", "TaskContext")
    TaskResult = _load("", "TaskResult")
    TaskResultStatus = _load("", "TaskResultStatus")
    task_backends = _load("", "task_backends")
    BaseTaskBackend = _load(".backends.base", "BaseTaskBackend")
    Task = _load(".base", "Task")
    TaskError = _load(".base", "TaskError")
    InvalidTaskBackend = _load(
        ".exceptions", "InvalidTaskBackend", backport="InvalidTaskBackendError"
    )
    InvalidTask = _load(".exceptions", "InvalidTask", backport="InvalidTaskError")
    TaskResultDoesNotExist = _load(".exceptions", "TaskResultDoesNotExist")
    task_enqueued = _load(".signals", "task_enqueued")
    task_finished = _load(".signals", "task_finished")
    task_started = _load(".signals", "task_started")
    if API == "django.tasks":
        from django.utils.json import normalize_json
    else:
        from django_tasks.utils import normalize_json

__all__ = [
    "API",
    "BaseTaskBackend",
    "InvalidTask",
    "InvalidTaskBackend",
    "Task",
    "TaskContext",
    "TaskError",
    "TaskResult",
    "TaskResultDoesNotExist",
    "TaskResultStatus",
    "normalize_json",
    "task_backends",
    "task_enqueued",
    "task_finished",
    "task_started",
]
