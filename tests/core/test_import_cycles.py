"""The package's modules import each other without a single cycle.

Every import counts: module level, inside functions and under ``TYPE_CHECKING``.
The only exception is the command line (``docket.cli``), whose function-local
imports defer loading a command's dependencies until that command runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import docket

PACKAGE_ROOT = Path(docket.__file__).parent


def _module_names() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for path in PACKAGE_ROOT.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _targets(module: str, path: Path, node: ast.AST, known: set[str]) -> list[str]:
    """The package modules one import statement names (``from a import b`` names
    the submodule ``a.b`` when there is one, else ``a``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.startswith("docket")]
    assert isinstance(node, ast.ImportFrom)
    if node.level:
        base = module.split(".")
        if path.name != "__init__.py":
            base.pop()
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    if prefix.split(".")[0] != "docket":
        return []
    return [
        f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in known else prefix
        for alias in node.names
    ]


def _is_deferred(module: str, node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """A function-local import of the CLI (loading a command on demand)."""
    if not module.startswith("docket.cli"):
        return False
    parent = parents.get(node)
    while parent is not None:
        if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return True
        parent = parents.get(parent)
    return False


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports, by every import statement."""
    modules = _module_names()
    known = set(modules)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parents = {
            child: parent
            for parent in ast.walk(tree)
            for child in ast.iter_child_nodes(parent)
        }
        edges: set[str] = set()
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            if _is_deferred(module, node, parents):
                continue
            for target in _targets(module, path, node, known):
                while target not in known and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target != module:
                    edges.add(target)
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def test_the_package_has_no_import_cycle() -> None:
    """No chain of imports (any kind, any place) leads from a module back to itself."""
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_sees_local_and_type_checking_imports() -> None:
    """The checker itself: a function-local or TYPE_CHECKING import closes a cycle."""
    graph = import_graph()
    assert "docket._handles" in graph["docket.execution"]
    assert "docket.docket" in graph["docket.dependencies._current"]  # TYPE_CHECKING
    assert "docket._tasks" in graph["docket.docket"]  # inside Docket.__init__
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
