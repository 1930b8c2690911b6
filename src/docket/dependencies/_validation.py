"""The "single" rule over task- and worker-level dependency declarations.

A class with ``single = True`` may appear at most once per task, counting
default-value, ``Annotated`` and worker-level dependencies together, and
different classes under one single base conflict.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from uncalled_for import (
    Dependency,
    FailedDependency,
    get_annotation_dependencies,
    get_dependency_parameters,
)
from uncalled_for.caching import FunctionCache

from .._handles import WorkerHandle


def declared_dependencies(
    function: Callable[..., Any],
) -> list[tuple[str, Dependency[Any]]]:
    """The function's declared dependencies as ``(parameter, dependency)`` pairs."""
    declared: list[tuple[str, Dependency[Any]]] = list(
        get_dependency_parameters(function).items()
    )
    for name, dependencies in get_annotation_dependencies(function).items():
        declared.extend((name, dependency) for dependency in dependencies)
    return declared


def _is_single(cls: type) -> bool:
    return bool(getattr(cls, "single", False))


def _single_bases(dependencies: Iterable[Any]) -> list[type]:
    """The "single" dependency classes among the dependencies' classes and their
    bases (a Retry subclass counts as a Retry), in first-seen order."""
    bases: list[type] = []
    for dependency in dependencies:
        for cls in type(dependency).__mro__:
            if (
                cls is not Dependency
                and issubclass(cls, Dependency)
                and _is_single(cls)
                and cls not in bases
            ):
                bases.append(cls)
    return bases


def single_rule_violation(
    task: list[tuple[str, Dependency[Any]]],
    worker: list[tuple[str, Dependency[Any]]] | None = None,
) -> str | None:
    """The "single" rule over task- and worker-level declarations.

    Returns the error message, or None when the declarations are fine. Duplicates
    of one concrete type are reported first; then conflicts between different
    types under one single base class.
    """
    worker = worker or []
    entries = [*worker, *task]
    worker_count = len(worker)

    by_type: dict[type, list[int]] = {}
    for index, (_, dependency) in enumerate(entries):
        by_type.setdefault(type(dependency), []).append(index)

    for dependency_type, indexes in by_type.items():
        if not _is_single(dependency_type) or len(indexes) < 2:
            continue
        if any(index < worker_count for index in indexes):
            places = ", ".join(f"'{entries[index][0]}'" for index in indexes)
            return (
                f"Only one {dependency_type.__name__} dependency is allowed, "
                f"but found at: {places}. "
                "Declare it in exactly one place (task or worker)."
            )
        return f"Only one {dependency_type.__name__} dependency is allowed"

    single_bases = _single_bases(dependency for _, dependency in entries)

    for base in single_bases:
        found = [
            dependency for _, dependency in entries if isinstance(dependency, base)
        ]
        if len(found) > 1:
            names = ", ".join(type(dependency).__name__ for dependency in found)
            return f"Only one {base.__name__} dependency is allowed, but found: {names}"

    return None


def validate_dependencies(function: Callable[..., Any]) -> None:
    """Raise ``ValueError`` when a function breaks the "single" rule.

    Also raises the engine's ``TypeError`` for a parameter that declares two
    value providers.
    """
    violation = single_rule_violation(declared_dependencies(function))
    if violation is not None:
        raise ValueError(violation)


def worker_dependencies(worker: WorkerHandle) -> list[tuple[str, Dependency[Any]]]:
    """The worker-level dependencies as ``(name, dependency)`` pairs, in order."""
    dependencies: Any = getattr(worker, "dependencies", None)
    if not dependencies:
        return []
    if isinstance(dependencies, Mapping):
        mapping: Mapping[str, Dependency[Any]] = dependencies
        return list(mapping.items())
    sequence: Iterable[Dependency[Any]] = dependencies
    return [
        (f"__worker_dep_{index}__", dependency)
        for index, dependency in enumerate(sequence)
    ]


# (worker, function) -> "" when fine, else the violation message.
_violations: weakref.WeakKeyDictionary[Any, FunctionCache[str]] = (
    weakref.WeakKeyDictionary()
)


def cross_level_violation(
    worker: WorkerHandle,
    function: Callable[..., Any],
    at_worker: list[tuple[str, Dependency[Any]]],
) -> str | None:
    if not at_worker:
        return None
    try:
        cache = _violations.setdefault(worker, FunctionCache())
    except TypeError:  # a worker that cannot be weakly referenced: no caching
        cache = FunctionCache[str]()
    cached = cache.get(function)
    if cached is None:
        cached = single_rule_violation(declared_dependencies(function), at_worker) or ""
        cache[function] = cached
    return cached or None


_ONE_PLACE = "Declare it in exactly one place (task or worker)."


def dependency_conflicts(
    arguments: Mapping[str, Any],
    annotations: Mapping[str, Sequence[Dependency[Any]]],
) -> dict[str, FailedDependency]:
    """The "single" rule over resolved arguments and ``Annotated`` dependencies.

    Looks at argument values that are dependencies (worker-level ones included)
    and at every ``Annotated`` dependency. A single type found twice or more gives
    ``__conflict_<Type>__``; different types under one single base (not already
    reported) give ``__conflict_<Base>__``. Each maps to a ``FailedDependency``
    holding the ``ValueError`` that explains it.
    """
    found: list[tuple[str, Dependency[Any]]] = [
        (name, value)
        for name, value in arguments.items()
        if isinstance(value, Dependency)
    ]
    for name, dependencies in annotations.items():
        found.extend((name, dependency) for dependency in dependencies)

    conflicts: dict[str, FailedDependency] = {}
    reported: set[type] = set()
    by_type: dict[type, list[str]] = {}
    for name, dependency in found:
        by_type.setdefault(type(dependency), []).append(name)
    for kind, names in by_type.items():
        if _is_single(kind) and len(names) > 1:
            places = ", ".join(f"'{name}'" for name in names)
            message = (
                f"Only one {kind.__name__} dependency is allowed, but found at: "
                f"{places}. {_ONE_PLACE}"
            )
            slot = f"__conflict_{kind.__name__}__"
            conflicts[slot] = FailedDependency(slot, ValueError(message))
            reported.add(kind)

    bases = _single_bases(dependency for _, dependency in found)
    for base in bases:
        members = [(n, d) for n, d in found if isinstance(d, base)]
        kinds = {type(d) for _, d in members}
        if len(kinds) < 2 or kinds <= reported:
            continue
        listed = ", ".join(f"'{n}' ({type(d).__name__})" for n, d in members)
        message = (
            f"Only one {base.__name__} dependency is allowed, but found: {listed}. "
            f"{_ONE_PLACE}"
        )
        slot = f"__conflict_{base.__name__}__"
        conflicts[slot] = FailedDependency(slot, ValueError(message))
        reported.update(kinds)
    return conflicts
