"""Assertions about the tasks a docket holds, for use in tests.

Each helper takes a snapshot and looks only at ``snapshot.future``: stream
entries not yet delivered plus future tasks; running tasks are not included.
A ``function`` may be a callable (matched by ``__name__``) or a task name.

    await docket.add(send_email)("a@example.com")
    await testing.assert_task_scheduled(docket, send_email, args=("a@example.com",))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .docket import Docket
from .execution import Execution

TaskRef = str | Callable[..., Any]

__all__ = [
    "assert_no_tasks",
    "assert_task_count",
    "assert_task_not_scheduled",
    "assert_task_scheduled",
]


def _name(function: TaskRef) -> str:
    return function if isinstance(function, str) else function.__name__


def _describe(execution: Execution) -> str:
    return (
        f"{execution.function_name}(args={execution.args!r}, "
        f"kwargs={execution.kwargs!r}, key={execution.key!r})"
    )


def _listing(executions: Sequence[Execution]) -> str:
    return "\n".join(f"  - {_describe(execution)}" for execution in executions)


def _matches(
    execution: Execution,
    name: str,
    args: tuple[Any, ...] | None,
    kwargs: dict[str, Any] | None,
    key: str | None,
) -> bool:
    """Name and key must be equal, args equal, kwargs a subset of the call's."""
    if execution.function_name != name:
        return False
    if key is not None and execution.key != key:
        return False
    if args is not None and execution.args != args:
        return False
    if kwargs is None:
        return True
    missing = object()
    return all(execution.kwargs.get(k, missing) == v for k, v in kwargs.items())


async def _future(docket: Docket) -> Sequence[Execution]:
    return list((await docket.snapshot()).future)


async def assert_task_scheduled(
    docket: Docket,
    function: TaskRef,
    *,
    args: tuple[Any, ...] | None = None,
    kwargs: dict[str, Any] | None = None,
    key: str | None = None,
) -> None:
    """Pass when at least one waiting execution matches; else AssertionError."""
    name = _name(function)
    future = await _future(docket)
    if any(_matches(e, name, args, kwargs, key) for e in future):
        return
    if not future:
        raise AssertionError(f"Task {name} not found: no tasks scheduled on docket")
    criteria = [f"function={name}"]
    for label, value in (("key", key), ("args", args), ("kwargs", kwargs)):
        if value is not None:
            criteria.append(f"{label}={value!r}")
    raise AssertionError(
        f"Task {name} not found with {', '.join(criteria)}\n\n"
        f"Scheduled tasks:\n{_listing(future)}"
    )


async def assert_task_not_scheduled(
    docket: Docket,
    function: TaskRef,
    *,
    args: tuple[Any, ...] | None = None,
    kwargs: dict[str, Any] | None = None,
    key: str | None = None,
) -> None:
    """Raise AssertionError on the first waiting execution that matches."""
    name = _name(function)
    for execution in await _future(docket):
        if _matches(execution, name, args, kwargs, key):
            raise AssertionError(
                f"Task {name} found but should not be scheduled\n"
                f"Found: {_describe(execution)}"
            )


async def assert_task_count(
    docket: Docket, function: TaskRef | None = None, *, count: int
) -> None:
    """Assert how many executions wait: all of them, or those of ``function``."""
    future = await _future(docket)
    if function is None:
        found, what = len(future), "all tasks"
    else:
        name = _name(function)
        found = sum(1 for e in future if e.function_name == name)
        what = f"tasks for {name}"
    if found != count:
        raise AssertionError(f"Expected {count} {what}, found {found}")


async def assert_no_tasks(docket: Docket) -> None:
    """Assert that nothing waits on the docket."""
    future = await _future(docket)
    if future:
        raise AssertionError(
            f"Expected no tasks, found {len(future)} task(s) scheduled:\n"
            f"{_listing(future)}"
        )
