"""Finding a Django task from the name its Docket messages carry: the task's
module path (``myapp.tasks.send_email``), imported like Django's own backends
import a stored task."""

from __future__ import annotations

from typing import Any

from django.utils.module_loading import import_string

from ._compat import Task


class NotADjangoTask(LookupError):
    """A task name that does not lead to a Django task."""


def task_at(path: str) -> Any:
    """The Django ``Task`` at ``path``; ``NotADjangoTask`` says why not."""
    if "." not in path:
        raise NotADjangoTask(
            f"{path!r} is not a Django task's module path (module.attribute)"
        )
    try:
        found = import_string(path)
    except Exception as error:  # ImportError, or the module's own error
        raise NotADjangoTask(
            f"{path!r} cannot be imported here: {type(error).__name__}: {error}"
        ) from error
    if not isinstance(found, Task):
        raise NotADjangoTask(
            f"{path!r} is a {type(found).__name__}, not a Django task "
            "(a function decorated with @task)"
        )
    return found


__all__ = ["NotADjangoTask", "task_at"]
