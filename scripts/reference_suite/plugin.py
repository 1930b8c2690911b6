"""pytest plugin for measuring the reference's own test-suite against a package.

Loaded with ``-p plugin`` by ``scripts/reference-suite.sh``; never part of
Docket's own tests. It does three things:

1. Leaves out the tests of the reference's private internals, decided from the
   test source alone (so the same tests are left out whichever package runs
   them): a test module that imports an underscored ``docket`` module at its
   top level is not collected; a test whose own body imports one, patches one
   by dotted name, or reaches an underscored attribute of a ``docket`` object
   is deselected. Each exclusion is written with its reason.
2. Bridges the reference's fixtures (conftest.py and its key-leak checker import
   ``RedisConnection``, ``RedisClient`` and ``clear_memory_servers`` from the
   reference's private ``docket._redis``/``docket._redis_memory``): when the
   package under test lacks one of these names, a bridge is installed for the
   session. Tests never see these bridges except through the fixtures.
3. Records every test's outcome (passed, failed, skipped, error) as JSON lines
   in ``$REFSUITE_RESULTS``.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import sys
import types
from pathlib import Path
from typing import Any

import pytest

PRIVATE_EXCLUSIONS = {
    # Private names the reference's tests reach that are not in its public API,
    # found by reading the tests; each left-out test names its reason.
}


def _is_private_module(name: str | None) -> bool:
    if not name:
        return False
    parts = name.split(".")
    return parts[0] == "docket" and any(
        part.startswith("_") and not part.startswith("__") for part in parts[1:]
    )


def _private_imports(nodes: list[ast.stmt]) -> list[str]:
    found: list[str] = []
    for node in nodes:
        for inner in ast.walk(node):
            if isinstance(inner, ast.ImportFrom) and _is_private_module(inner.module):
                found.append(inner.module or "")
            elif isinstance(inner, ast.Import):
                found.extend(a.name for a in inner.names if _is_private_module(a.name))
    return found


def _module_level_imports(tree: ast.Module) -> list[str]:
    """Underscored docket modules, or underscored names of docket modules
    (``from docket.worker import _ProcessingSession``), imported at top level."""
    top: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            top.append(node)
        elif isinstance(node, (ast.If, ast.Try)):
            top.append(node)
    found = _private_imports(top)
    for node in top:
        for inner in ast.walk(node):
            if (
                isinstance(inner, ast.ImportFrom)
                and (inner.module or "").split(".")[0] == "docket"
            ):
                found += [
                    f"{inner.module}.{a.name}"
                    for a in inner.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]
    return found


def _is_private_name(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and len(name) > 1


def _private_reach(function: ast.AST) -> str | None:
    """Why a function reaches the reference's internals directly, or None: it
    imports an underscored docket module, names one by dotted path (a patch
    target), names an underscored attribute as a string (``patch.object(X,
    "_y")``, ``setattr``), or reads one (``worker._x``)."""
    imports = _private_imports([function])  # type: ignore[list-item]
    if imports:
        return f"imports {imports[0]}"
    for node in ast.walk(function):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            last = text.rsplit(".", 1)[-1]
            if text.startswith("docket.") and (
                _is_private_module(text.rsplit(".", 1)[0]) or _is_private_name(last)
            ):
                return f"patches {text}"
            if _is_private_name(text) and text.isidentifier():
                return f"names attribute {text}"
        if isinstance(node, ast.Attribute) and _is_private_name(node.attr):
            return f"reaches .{node.attr}"
    return None


def _uses(function: ast.AST) -> set[str]:
    """Names a function refers to, and the fixtures it takes."""
    names = {n.id for n in ast.walk(function) if isinstance(n, ast.Name)}
    if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
        names |= {a.arg for a in function.args.args + function.args.kwonlyargs}
    return names


def _module_functions(tree: ast.Module) -> dict[str, ast.AST]:
    functions: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for inner in node.body:
                if isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    functions[inner.name] = inner
    return functions


_module_reasons: dict[Path, str | None] = {}
_function_reasons: dict[tuple[Path, str], str | None] = {}


def _parse(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return None


def _module_reason(path: Path) -> str | None:
    if path not in _module_reasons:
        tree = _parse(path)
        imports = _module_level_imports(tree) if tree else []
        _module_reasons[path] = f"module imports {imports[0]}" if imports else None
        if tree is not None:
            functions = _module_functions(tree)
            direct = {name: _private_reach(f) for name, f in functions.items()}
            helpers = {
                name: reason
                for name, reason in direct.items()
                if reason and not name.startswith("test_")
            }
            for name, function in functions.items():
                reason = direct[name]
                if reason is None:
                    for used in sorted(_uses(function) & helpers.keys()):
                        reason = f"through {used}(), which {helpers[used]}"
                        break
                _function_reasons[(path, name)] = reason
    return _module_reasons[path]


_results_path = os.environ.get("REFSUITE_RESULTS")
_excluded: list[dict[str, str]] = []


def _write(record: dict[str, Any]) -> None:
    if _results_path:
        with open(_results_path, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")


def _bridge_reference_fixtures() -> None:
    """Give the reference's fixtures the private names they import, if missing."""
    try:
        import docket._redis as redis_module
    except ImportError:
        return
    if not hasattr(redis_module, "RedisConnection"):

        class RedisConnection:  # only named by the provider legs' fixture
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                raise RuntimeError("RedisConnection is the reference's internal")

        redis_module.RedisConnection = RedisConnection  # type: ignore[attr-defined]
    if not hasattr(redis_module, "RedisClient"):
        from redis.asyncio import Redis

        redis_module.RedisClient = Redis  # type: ignore[attr-defined]
    clear = getattr(redis_module, "clear_memory_servers", None)
    if clear is not None and not inspect.iscoroutinefunction(clear):
        sync_clear = clear

        async def clear_memory_servers() -> None:
            result = sync_clear()
            if inspect.isawaitable(result):
                await result

        redis_module.clear_memory_servers = clear_memory_servers  # type: ignore[attr-defined]
        clear = clear_memory_servers
    if "docket._redis_memory" not in sys.modules:
        try:
            import docket._redis_memory  # noqa: F401
        except ImportError:
            bridge = types.ModuleType("docket._redis_memory")
            bridge.clear_memory_servers = clear  # type: ignore[attr-defined]
            sys.modules["docket._redis_memory"] = bridge


_is_xdist_worker = False


def pytest_configure(config: pytest.Config) -> None:
    global _is_xdist_worker
    _is_xdist_worker = hasattr(config, "workerinput")


# The reference's conftest imports these names when it is loaded, which is
# before pytest_configure: bridge them as this plugin is imported.
_bridge_reference_fixtures()


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.suffix == ".py" and collection_path.name.startswith("test_"):
        reason = _module_reason(collection_path)
        if reason:
            rel = collection_path.relative_to(config.rootpath).as_posix()
            _write({"nodeid": rel, "outcome": "excluded", "reason": reason})
            return True
    return None


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        path = Path(str(item.fspath))
        _module_reason(path)
        function = getattr(item, "originalname", item.name)
        reason = PRIVATE_EXCLUSIONS.get(item.nodeid) or _function_reasons.get(
            (path, function)
        )
        if reason:
            dropped.append(item)
            _write({"nodeid": item.nodeid, "outcome": "excluded", "reason": reason})
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed and not _is_xdist_worker:
        _write(
            {
                "nodeid": report.nodeid,
                "outcome": "collect-error",
                "message": str(report.longrepr)[-2000:],
            }
        )


_phases: dict[str, str] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if _is_xdist_worker:
        return
    previous = _phases.get(report.nodeid)
    if report.failed:
        outcome = "failed" if report.when == "call" else "error"
        if previous not in ("failed", "error"):
            _phases[report.nodeid] = outcome
            _write(
                {
                    "nodeid": report.nodeid,
                    "outcome": outcome,
                    "when": report.when,
                    "message": str(report.longrepr)[-3000:],
                }
            )
        return
    if report.skipped and previous is None:
        _phases[report.nodeid] = "skipped"
        _write({"nodeid": report.nodeid, "outcome": "skipped"})
        return
    if report.when == "teardown" and previous is None:
        _phases[report.nodeid] = "passed"
        _write({"nodeid": report.nodeid, "outcome": "passed"})
    elif report.when == "call" and report.passed and previous is None:
        _phases[report.nodeid] = "call-passed"
    if report.when == "teardown" and previous == "call-passed":
        _phases[report.nodeid] = "passed"
        _write({"nodeid": report.nodeid, "outcome": "passed"})


# A test that hangs while holding the GIL (or in C code) defeats pytest-timeout's
# timer thread: faulthandler's watchdog needs no GIL, prints every stack and ends
# the process, and xdist records the test as crashed and starts a new worker.
WATCHDOG_SECONDS = 120


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    import faulthandler

    faulthandler.dump_traceback_later(WATCHDOG_SECONDS, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
