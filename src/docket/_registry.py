"""Checks applied to task functions when they are registered."""

from __future__ import annotations

from typing import Any

from uncalled_for import get_annotation_dependencies, get_dependency_parameters

from ._handles import TaskFunction
from .dependencies._validation import validate_dependencies


def check_task_function(function: Any) -> None:
    """Reject what cannot be a task, with a clear error, before anything is stored."""
    if not callable(function):
        raise TypeError(f"Tasks must be functions, not {type(function).__name__}")
    if not hasattr(function, "__name__"):
        raise TypeError(f"Task {function!r} has no __name__; register a named function")
    validate_dependencies(function)
    dependencies = list(get_dependency_parameters(function).values())
    for group in get_annotation_dependencies(function).values():
        dependencies.extend(group)
    for dependency in dependencies:
        if getattr(type(dependency), "available", True) is False:
            raise NotImplementedError(
                f"Task {function.__name__!r} uses {type(dependency).__name__}, "
                "which is not available in this release of docket"
            )


def placeholder_task(name: str) -> TaskFunction:
    """A stand-in for a task name this process has not registered."""

    async def placeholder(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"Task {name!r} is not registered in this process")

    placeholder.__name__ = name
    placeholder.__qualname__ = name
    return placeholder


__all__ = ["check_task_function", "placeholder_task"]
