"""Checking a Worker's settings: its own dependencies, its isolation pools."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from uncalled_for import Dependency


def worker_dependencies(
    dependencies: Mapping[str, Dependency[Any]] | Sequence[Dependency[Any]] | None,
) -> dict[str, Dependency[Any]]:
    """Worker-level dependencies by name: a mapping keeps its names (none may start
    with ``__``), a sequence gets ``__worker_dep_<index>__`` (pydocket's names)."""
    if dependencies is None:
        return {}
    named: list[tuple[str | None, Any]]
    if isinstance(dependencies, Mapping):
        named = list(dependencies.items())
    else:
        named = [(None, dependency) for dependency in dependencies]
    validated: dict[str, Dependency[Any]] = {}
    for index, (given, dependency) in enumerate(named):
        if given is not None and given.startswith("__"):
            raise ValueError(
                f"Worker dependency name {given!r} is reserved (starts with '__')"
            )
        if not isinstance(dependency, Dependency):
            label = given if given is not None else f"index {index}"
            raise TypeError(
                f"Worker dependency {label!r} must be a Dependency instance "
                f"(such as Depends(function) or Retry(...)), not "
                f"{type(dependency).__name__}: {dependency!r}"
            )
        validated[given if given is not None else f"__worker_dep_{index}__"] = (
            dependency
        )
    return validated


def isolation_options(
    isolated_processes: int | None,
    max_tasks_per_child: int,
    pools: Mapping[str, int] | None,
) -> tuple[int | None, int, dict[str, int]]:
    """The isolation settings, checked: a positive default pool size (None: one
    child per CPU), calls per child (0: no limit), named pools of positive size."""
    if isolated_processes is not None and (
        isinstance(isolated_processes, bool) or isolated_processes < 1
    ):
        raise ValueError(
            f"isolated_processes must be at least 1, got {isolated_processes!r}"
        )
    if max_tasks_per_child < 0:
        raise ValueError(
            f"max_tasks_per_child must be 0 (no limit) or more, got "
            f"{max_tasks_per_child}"
        )
    checked: dict[str, int] = {}
    for name, size in dict(pools or {}).items():
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"A pool name must be non-empty text, got {name!r}")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(
                f"Pool {name!r} must have at least 1 process, got {size!r}"
            )
        checked[name] = size
    return isolated_processes, max_tasks_per_child, checked
