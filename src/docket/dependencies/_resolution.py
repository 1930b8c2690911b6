"""Resolving a task's dependencies for one execution, and finding handler roles.

``resolved_dependencies(worker, execution)`` enters, on one exit stack (so that
teardown is last-in-first-out):

1. the worker-level dependencies, in order (their values are not passed);
2. the task's default-value dependencies, in signature order, unless the caller
   supplied that argument;
3. the task's ``Annotated`` dependencies, bound to the parameter's value.

It is built from the engine's own pieces (the ``Depends`` cache and stack
ContextVars and its resolution ``Frame``) rather than from
``uncalled_for.resolved_dependencies``, because the worker-level dependencies must
share the per-execution ``Depends`` cache and exit stack with the task's.
The cross-level "single" check (``_validation``) runs first, cached per
(worker, function).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, TypeVar

from uncalled_for import (
    Dependency,
    FailedDependency,
    frame_scope,
    get_annotation_dependencies,
    get_dependency_parameters,
    get_signature,
)

# The engine's per-resolution cache and exit stack live on ``_Depends``; the
# worker-level dependencies must share them (see the module docstring).
from uncalled_for.functional import _Depends  # pyright: ignore[reportPrivateUsage]

from .._handles import WorkerHandle
from ..execution import Execution
from ._context import current_docket, current_execution, current_worker
from ._validation import cross_level_violation, worker_dependencies

D = TypeVar("D")


class ResolvedDependencies(dict[str, Any]):
    """The resolved values of the task's dependency parameters, by parameter name.

    Pass these to the task. Failures appear as ``FailedDependency`` values (a
    failed worker-level dependency under its worker-level name). ``extras`` holds
    the entered values that are not passed to the task: worker-level dependencies
    and ``Annotated`` dependencies. ``get_single_dependency_of_type`` searches both.
    """

    extras: list[Any]

    def __init__(self) -> None:
        super().__init__()
        self.extras = []

    @property
    def failures(self) -> list[FailedDependency]:
        """Every dependency that raised during resolution, in resolution order."""
        return [value for value in self.values() if isinstance(value, FailedDependency)]

    def record_failure(self, name: str, error: Exception) -> None:
        """Record a failure for ``name``, keeping an earlier failure for that name."""
        if not isinstance(self.get(name), FailedDependency):
            self[name] = FailedDependency(name, error)


def get_single_dependency_of_type(
    dependencies: Mapping[str, Any], dependency_type: type[D]
) -> D | None:
    """The first resolved value that is an instance of ``dependency_type``, if any.

    For a ``ResolvedDependencies`` the worker-level and ``Annotated`` values are
    searched too, after the task's parameter values.
    """
    values: Iterable[Any] = dependencies.values()
    if isinstance(dependencies, ResolvedDependencies):
        values = [*values, *dependencies.extras]
    for value in values:
        if isinstance(value, dependency_type):
            return value
    return None


def get_single_dependency_parameter_of_type(
    function: Callable[..., Any], dependency_type: type[D]
) -> D | None:
    """The first dependency of ``dependency_type`` a function declares.

    Looks at default-value dependencies, then ``Annotated`` dependencies.
    """
    for dependency in get_dependency_parameters(function).values():
        if isinstance(dependency, dependency_type):
            return dependency
    for dependencies in get_annotation_dependencies(function).values():
        for dependency in dependencies:
            if isinstance(dependency, dependency_type):
                return dependency
    return None


def has_dependencies(function: Callable[..., Any]) -> bool:
    """Whether the function declares any dependency (default or ``Annotated``).

    The engine caches both lookups per function. A function whose declarations
    cannot even be read counts as having dependencies, so that the normal
    resolution path reports the problem.
    """
    try:
        return bool(get_dependency_parameters(function)) or bool(
            get_annotation_dependencies(function)
        )
    except Exception:
        return True


def _bind_arguments(
    function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[dict[str, Any], set[str]]:
    """The caller's arguments by parameter name, and the names given positionally."""
    signature = get_signature(function)
    try:
        bound = signature.bind_partial(*args, **kwargs)
    except TypeError:
        return dict(kwargs), set()
    provided: dict[str, Any] = {}
    positional: set[str] = set()
    for name, value in bound.arguments.items():
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        if kind is inspect.Parameter.VAR_KEYWORD:
            provided.update(value)
            continue
        provided[name] = value
        if name not in kwargs:
            positional.add(name)
    return provided, positional


def _annotated_value(
    function: Callable[..., Any],
    name: str,
    provided: dict[str, Any],
    values: dict[str, Any],
) -> Any:
    """What an ``Annotated`` dependency on ``name`` is bound to."""
    if name in provided:
        return provided[name]
    if name in values and not isinstance(values[name], FailedDependency):
        return values[name]
    parameter = get_signature(function).parameters.get(name)
    if parameter is None or parameter.default is inspect.Parameter.empty:
        return None
    if isinstance(parameter.default, Dependency):
        return None
    return parameter.default


@asynccontextmanager
async def resolved_dependencies(
    worker: WorkerHandle, execution: Execution
) -> AsyncGenerator[ResolvedDependencies, None]:
    """Resolve the worker's and the task's dependencies for one execution.

    Yields the task's dependency parameter values (see ``ResolvedDependencies``).
    ``current_docket``, ``current_worker`` and ``current_execution`` are set for
    the duration. Raises ``ValueError`` before entering anything when the worker-
    and task-level declarations break the "single" rule together.
    """
    function = execution.function
    at_worker = worker_dependencies(worker)
    violation = cross_level_violation(worker, function, at_worker)
    if violation is not None:
        raise ValueError(violation)

    provided, positional = _bind_arguments(
        function, tuple(execution.args), dict(execution.kwargs)
    )

    docket_token = current_docket.set(worker.docket)
    worker_token = current_worker.set(worker)
    execution_token = current_execution.set(execution)
    cache_token = _Depends.cache.set({})
    try:
        async with AsyncExitStack() as stack:
            stack_token = _Depends.stack.set(stack)
            try:
                with frame_scope(function, provided) as frame:
                    resolved = ResolvedDependencies()

                    for name, dependency in at_worker:
                        try:
                            value = await stack.enter_async_context(
                                dependency.for_parameter(name)
                            )
                        except Exception as error:
                            resolved.record_failure(name, error)
                        else:
                            resolved.extras.append(value)

                    values: dict[str, Any] = {}
                    for name in get_dependency_parameters(function):
                        try:
                            values[name] = await frame.resolve(name)
                        except Exception as error:
                            values[name] = FailedDependency(name, error)
                        if name in positional:
                            continue  # passed positionally: not a keyword too
                        if isinstance(values[name], FailedDependency):
                            resolved.record_failure(name, values[name].error)
                        elif not isinstance(resolved.get(name), FailedDependency):
                            resolved[name] = values[name]

                    annotated = get_annotation_dependencies(function)
                    for name, dependencies in annotated.items():
                        value = _annotated_value(function, name, provided, values)
                        for dependency in dependencies:
                            try:
                                bound = dependency.bind_to_parameter(name, value)
                                entered = await stack.enter_async_context(bound)
                            except Exception as error:
                                resolved.record_failure(name, error)
                            else:
                                resolved.extras.append(entered)

                    yield resolved
            finally:
                _Depends.stack.reset(stack_token)
    finally:
        _Depends.cache.reset(cache_token)
        current_execution.reset(execution_token)
        current_worker.reset(worker_token)
        current_docket.reset(docket_token)
