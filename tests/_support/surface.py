"""Describing a package's public surface, and checking ours against a description.

``describe()`` walks the ``docket`` package that is importable in the running
interpreter: every public module (no underscored part in its dotted path), every
name user code can import from it, every class member, every parameter with its
kind and default, every enum member, and the command line's commands and options.
``scripts/compat_manifest.py`` runs it under an interpreter where the published
pydocket is installed and saves the result as ``tests/core/compat_manifest.json``;
``check()`` walks our package against that file and lists what ours lacks.

Which module-level names count: those in the module's ``__all__``, and the other
public names whose object is defined somewhere in the package (a top-level ``def``,
``class`` or assignment in one of its source files) and is the same object here.
Names a module merely imports from the standard library or a third party
(``datetime``, ``Any``, ``Console``...) are not the package's surface, unless
listed in ``EXTRA``.

This module imports nothing from docket at import time, so it runs under any
interpreter that has some ``docket`` installed.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import functools
import importlib
import inspect
import pkgutil
import sys
import types
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

PACKAGE = "docket"

# Names taken from a third party that code written for the reference patches or
# imports from the reference's module all the same.
EXTRA: dict[str, tuple[str, ...]] = {"docket.cli": ("Console",)}

# Dunder members that say how an object is used (``async with``, calls, loops).
PROTOCOL = (
    "__aenter__",
    "__aexit__",
    "__enter__",
    "__exit__",
    "__call__",
    "__iter__",
    "__aiter__",
    "__len__",
    "__contains__",
    "__getitem__",
)

# Where a member defined here comes from a base that is not the package's surface.
_FOREIGN_MODULES = frozenset(
    {"builtins", "enum", "abc", "typing", "collections.abc", "_collections_abc"}
)
OBJECT = "<object>"
DIFFERS = "<differs on purpose>"
_SIMPLE = (type(None), bool, int, float, str, bytes, timedelta, datetime, date, time)
_KINDS = {
    inspect.Parameter.POSITIONAL_ONLY: "positional-only",
    inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional-or-keyword",
    inspect.Parameter.VAR_POSITIONAL: "*args",
    inspect.Parameter.KEYWORD_ONLY: "keyword-only",
    inspect.Parameter.VAR_KEYWORD: "**kwargs",
}


# ---- describing ---------------------------------------------------------------


def normalized_default(value: Any) -> str:
    """A default as text two implementations can share: the repr of plain values
    (an enum member by its value, so ``LogLevel.INFO`` reads as ``'INFO'``), and
    ``<object>`` for any other object (only its presence is compared)."""
    if isinstance(value, enum.Enum):
        return normalized_default(value.value)
    if isinstance(value, float) and value.is_integer():
        return repr(int(value))  # 1.0 and 1 mean the same default
    if isinstance(value, _SIMPLE):
        return repr(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        items: Iterable[Any] = value
        shown = [normalized_default(item) for item in items]
        if OBJECT not in shown:
            if isinstance(value, (set, frozenset)):
                shown.sort()
            opening, closing = "()" if isinstance(value, tuple) else "[]"
            return f"{type(value).__name__}{opening}{', '.join(shown)}{closing}"
    if isinstance(value, dict) and not value:
        return "{}"
    return OBJECT


def describe_signature(function: Any) -> list[str] | None:
    """Each parameter as Python writes it (``name``, ``name=default``, ``*args``,
    ``**kwargs``, a ``/`` after positional-only ones and a ``*`` before
    keyword-only ones), defaults normalised; None where Python cannot tell."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    written: list[str] = []
    seen_star = False
    parameters = list(signature.parameters.values())
    for index, parameter in enumerate(parameters):
        kind = parameter.kind
        if kind is inspect.Parameter.KEYWORD_ONLY and not seen_star:
            written.append("*")
        if kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.KEYWORD_ONLY):
            seen_star = True
        text = {
            inspect.Parameter.VAR_POSITIONAL: "*",
            inspect.Parameter.VAR_KEYWORD: "**",
        }.get(kind, "") + parameter.name
        if parameter.default is not inspect.Parameter.empty:
            text += "=" + normalized_default(parameter.default)
        written.append(text)
        following = parameters[index + 1] if index + 1 < len(parameters) else None
        if kind is inspect.Parameter.POSITIONAL_ONLY and (
            following is None or following.kind is not kind
        ):
            written.append("/")
    return written


def parse_signature(written: list[str]) -> list[dict[str, Any]]:
    """``describe_signature``'s strings back as name, kind and default."""
    parameters: list[dict[str, Any]] = []
    kind = "positional-or-keyword"
    for text in written:
        if text == "/":
            for parameter in parameters:
                parameter["kind"] = "positional-only"
            continue
        if text == "*":
            kind = "keyword-only"
            continue
        if text.startswith("**"):
            parameters.append({"name": text[2:], "kind": "**kwargs"})
            continue
        if text.startswith("*"):
            parameters.append({"name": text[1:], "kind": "*args"})
            kind = "keyword-only"
            continue
        name, has_default, default = text.partition("=")
        parameter: dict[str, Any] = {"name": name, "kind": kind}
        if has_default:
            parameter["default"] = default
        parameters.append(parameter)
    return parameters


def _is_async(function: Any) -> bool:
    return inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)


def describe_callable(function: Any) -> dict[str, Any]:
    return {
        "kind": "function",
        "async": _is_async(function),
        "signature": describe_signature(function),
    }


def _defining_class(cls: type, name: str) -> type | None:
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass
    return None


def _is_foreign(klass: type) -> bool:
    return klass.__module__ in _FOREIGN_MODULES or klass is object


def _class_source_attributes(cls: type) -> set[str]:
    """Names assigned as ``self.<name>`` in the methods of ``cls`` (its source)."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return set()
    try:
        tree = ast.parse(_dedent(source))
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        for target in targets:
            for element in ast.walk(target):
                if (
                    isinstance(element, ast.Attribute)
                    and isinstance(element.value, ast.Name)
                    and element.value.id == "self"
                ):
                    names.add(element.attr)
    return names


def _dedent(source: str) -> str:
    lines = source.splitlines()
    indent = min(
        (len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0
    )
    return "\n".join(line[indent:] for line in lines)


@functools.cache
def instance_attributes(cls: type) -> frozenset[str]:
    """Attributes an instance has without ``dir(cls)`` showing them: dataclass
    fields, annotations, slots, ``self.x = ...`` in the methods of every class of
    the MRO that is not a builtin."""
    names: set[str] = set()
    if dataclasses.is_dataclass(cls):
        names.update(field.name for field in dataclasses.fields(cls))
    for klass in cls.__mro__:
        if _is_foreign(klass):
            continue
        names.update(vars(klass).get("__annotations__", {}))
        slots = vars(klass).get("__slots__", ())
        names.update([slots] if isinstance(slots, str) else slots)
        names.update(_class_source_attributes(klass))
    return frozenset(names)


def _member_kind(cls: type, name: str) -> dict[str, Any] | None:
    klass = _defining_class(cls, name)
    if klass is None:
        return {"kind": "attribute"}
    if _is_foreign(klass):
        return None
    raw = vars(klass)[name]
    if isinstance(raw, property):
        return {"kind": "property"}
    if isinstance(raw, classmethod):
        return {"kind": "classmethod", **_callable_parts(raw.__func__)}
    if isinstance(raw, staticmethod):
        return {"kind": "staticmethod", **_callable_parts(raw.__func__)}
    if inspect.isfunction(raw):
        return {"kind": "method", **_callable_parts(raw)}
    if inspect.isclass(raw):
        return {"kind": "class"}
    return {"kind": "attribute"}


def _callable_parts(function: Any) -> dict[str, Any]:
    return {"async": _is_async(function), "signature": describe_signature(function)}


def describe_class(cls: type) -> dict[str, Any]:
    members: dict[str, Any] = {}
    public = [n for n in dir(cls) if not n.startswith("_") or n in PROTOCOL]
    for name in sorted(set(public) | instance_attributes(cls)):
        if name.startswith("_") and name not in PROTOCOL:
            continue
        if isinstance(cls, enum.EnumMeta) and name in cls.__members__:
            continue
        kind = _member_kind(cls, name)
        if kind is not None:
            members[name] = kind
    entry: dict[str, Any] = {
        "kind": "class",
        "signature": None if isinstance(cls, enum.EnumMeta) else _class_signature(cls),
        "members": members,
        "builtin_bases": sorted(
            klass.__name__
            for klass in cls.__mro__[1:]
            if klass.__module__ == "builtins" and klass is not object
        ),
    }
    if isinstance(cls, enum.EnumMeta):
        enum_class: Any = cls
        entry["enum"] = {
            member.name: repr(member.value)
            for member in enum_class.__members__.values()
        }
    return entry


def _class_signature(cls: type) -> list[dict[str, Any]] | None:
    if issubclass(cls, BaseException) and "__init__" not in vars(cls):
        return None
    return describe_signature(cls)


def describe_value(value: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"kind": "value", "type": type(value).__name__}
    if isinstance(value, _SIMPLE) and not isinstance(value, (datetime, date, time)):
        entry["value"] = repr(value)
    return entry


def describe_object(value: Any, package: str = PACKAGE) -> dict[str, Any]:
    if inspect.isclass(value):
        if not value.__module__.startswith(package):
            # a third party's class: the same object is all that is asked
            return {"kind": "class", "foreign": value.__module__}
        return describe_class(value)
    if inspect.isfunction(value) or inspect.isbuiltin(value):
        return describe_callable(value)
    return describe_value(value)


def public_modules(package: str = PACKAGE) -> list[str]:
    root = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(root.__path__, f"{package}."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        names.append(info.name)
    return sorted(names)


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    names.update(
                        n.id for n in ast.walk(target) if isinstance(n, ast.Name)
                    )
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
            elif isinstance(node, ast.If):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                visit(node.orelse)
                for handler in node.handlers:
                    visit(handler.body)

    visit(tree.body)
    return names


def defined_objects(package: str = PACKAGE) -> list[tuple[str, str, Any]]:
    """(module, name, object) for every top-level definition in the package's
    source files, private modules included."""
    root = importlib.import_module(package)
    found: list[tuple[str, str, Any]] = []
    modules = [package] + [
        info.name for info in pkgutil.walk_packages(root.__path__, f"{package}.")
    ]
    for module_name in modules:
        if module_name.endswith("__main__"):
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # an optional extra that is not installed
            continue
        source = getattr(module, "__file__", None)
        if source is None or not source.endswith(".py"):
            continue
        tree = ast.parse(Path(source).read_text(encoding="utf-8"))
        for name in _top_level_names(tree):
            if hasattr(module, name):
                found.append((module_name, name, getattr(module, name)))
    return found


def surface_names(module: types.ModuleType, defined_ids: set[int]) -> list[str]:
    """The names of ``module`` that belong to the package's surface (see above)."""
    chosen = set(getattr(module, "__all__", ()))
    for name in dir(module):
        if name.startswith("_"):
            continue
        value = getattr(module, name)
        if isinstance(value, types.ModuleType):
            continue
        if id(value) in defined_ids and not _is_simple_constant_shared(value):
            chosen.add(name)
        elif isinstance(value, _SIMPLE) and name in _module_source_names(module):
            chosen.add(name)
    chosen.update(n for n in EXTRA.get(module.__name__, ()) if hasattr(module, n))
    return sorted(chosen)


def _is_simple_constant_shared(value: Any) -> bool:
    # Small ints and strings are interned: identity says nothing about them.
    return isinstance(value, _SIMPLE)


_SOURCE_NAMES: dict[str, set[str]] = {}


def _module_source_names(module: types.ModuleType) -> set[str]:
    source = getattr(module, "__file__", None)
    if source is None:
        return set()
    if source not in _SOURCE_NAMES:
        tree = ast.parse(Path(source).read_text(encoding="utf-8"))
        _SOURCE_NAMES[source] = _top_level_names(tree)
        # a constant imported from another module of the package counts too
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and (
                node.level or (node.module or "").startswith(PACKAGE)
            ):
                _SOURCE_NAMES[source].update(
                    alias.asname or alias.name for alias in node.names
                )
    return _SOURCE_NAMES[source]


def describe_cli(app: Any) -> dict[str, Any]:
    """Every command path of a Typer app, with its parameters."""
    import typer.main

    command = typer.main.get_command(app)
    commands: dict[str, Any] = {}

    def visit(node: Any, path: tuple[str, ...]) -> None:
        if hasattr(node, "commands"):  # a group (Typer may bundle its own click)
            for name, child in node.commands.items():
                visit(child, (*path, name))
            return
        parameters: dict[str, Any] = {}
        for parameter in node.params:
            if parameter.name is None or parameter.name == "help":
                continue
            envvar = parameter.envvar
            envvars = [envvar] if isinstance(envvar, str) else list(envvar or [])
            entry: dict[str, Any] = {
                "type": "option" if hasattr(parameter, "is_flag") else "argument",
                "opts": sorted(parameter.opts + parameter.secondary_opts),
                "envvars": envvars,
                "required": parameter.required,
                "multiple": parameter.multiple,
                "flag": bool(getattr(parameter, "is_flag", False)),
            }
            default = parameter.default
            if not callable(default) or isinstance(default, enum.Enum):
                entry["default"] = normalized_default(default)
            parameters[parameter.name] = entry
        commands[" ".join(path)] = parameters

    visit(command, ())
    return commands


def describe(
    package: str = PACKAGE,
    left_out: dict[str, str] | None = None,
    differences: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The whole public surface of the importable ``package``.

    ``left_out`` maps ``module.name`` (or ``module.Class.member``) to why ours has
    no counterpart: such entries are recorded with the reason instead of a
    description. ``differences`` maps a parameter (``module.function(param)``, a
    member's ``module.Class.method(param)``, a CLI ``cli:command --opt``) to why
    its default differs on purpose: recorded, not compared."""
    left_out = left_out or {}
    differences = differences or {}
    root = importlib.import_module(package)
    defined = defined_objects(package)
    defined_ids = {id(value) for _module, _name, value in defined}
    modules: dict[str, Any] = {}
    homes: dict[int, str] = {}
    for module_name in public_modules(package):
        module = importlib.import_module(module_name)
        entries: dict[str, Any] = {}
        for name in surface_names(module, defined_ids):
            path = f"{module_name}.{name}"
            if path in left_out:
                entries[name] = {"left_out": left_out[path]}
                continue
            value = getattr(module, name)
            home = None if isinstance(value, _SIMPLE) else homes.get(id(value))
            if home is not None:  # described once, where first found
                entries[name] = {"same_as": home}
                continue
            homes.setdefault(id(value), path)
            entry = describe_object(value, package)
            _mark(entry, path, left_out, differences)
            entries[name] = entry
        modules[module_name] = entries
    manifest: dict[str, Any] = {
        "version": getattr(root, "__version__", None),
        "modules": modules,
    }
    cli = sys.modules.get(f"{package}.cli")
    if cli is not None and hasattr(cli, "app"):
        commands = describe_cli(cli.app)
        for command, parameters in commands.items():
            for name, entry in parameters.items():
                if f"cli:{command} {name}" in differences:
                    entry["default"] = DIFFERS
        manifest["cli"] = commands
    manifest["differences"] = dict(sorted(differences.items()))
    return manifest


def _mark(
    entry: dict[str, Any],
    path: str,
    left_out: dict[str, str],
    differences: dict[str, str],
) -> None:
    """Apply the left-out members and differing defaults below ``path``."""
    for member, description in list(entry.get("members", {}).items()):
        member_path = f"{path}.{member}"
        if member_path in left_out:
            entry["members"][member] = {"left_out": left_out[member_path]}
        else:
            _mark_signature(description, member_path, differences)
    _mark_signature(entry, path, differences)


def _mark_signature(
    entry: dict[str, Any], path: str, differences: dict[str, str]
) -> None:
    written = entry.get("signature") or []
    for index, text in enumerate(written):
        name = text.lstrip("*").partition("=")[0]
        if f"{path}({name})" in differences:
            written[index] = f"{name}={DIFFERS}"


# ---- checking -----------------------------------------------------------------


def compatible_signature(
    ours: list[str] | None, reference: list[str] | None
) -> list[str]:
    """What a call written against ``reference`` would find wrong in ``ours``."""
    if reference is None or ours is None:
        return []
    mine_all, theirs = parse_signature(ours), parse_signature(reference)
    problems: list[str] = []
    by_name = {p["name"]: p for p in mine_all}
    positional = ("positional-only", "positional-or-keyword")
    ref_positional = [p for p in theirs if p["kind"] in positional]
    our_positional = [p for p in mine_all if p["kind"] in positional]
    has_args = any(p["kind"] == "*args" for p in mine_all)
    has_kwargs = any(p["kind"] == "**kwargs" for p in mine_all)
    for index, parameter in enumerate(ref_positional):
        if index >= len(our_positional):
            if not has_args:
                problems.append(f"no positional parameter #{index + 1}")
            continue
        mine = our_positional[index]
        if (
            parameter["kind"] == "positional-or-keyword"
            and mine["name"] != parameter["name"]
        ):
            problems.append(
                f"positional parameter #{index + 1} is {mine['name']!r}, "
                f"not {parameter['name']!r}"
            )
    for parameter in theirs:
        kind, name = parameter["kind"], parameter["name"]
        if kind in ("*args", "**kwargs"):
            if not any(p["kind"] == kind for p in mine_all):
                problems.append(f"no {kind}")
            continue
        mine = by_name.get(name)
        if mine is None:
            if kind != "positional-only" and not has_kwargs:
                problems.append(f"no parameter {name!r}")
            continue
        if mine["kind"] not in ("keyword-only", "positional-or-keyword") and (
            kind != "positional-only"
        ):
            problems.append(f"{name!r} cannot be passed by keyword")
        problems.extend(_default_problems(name, mine.get("default"), parameter))
    known = {p["name"] for p in theirs}
    for mine in mine_all:
        if (
            mine["name"] not in known
            and mine["kind"] not in ("*args", "**kwargs")
            and "default" not in mine
        ):
            problems.append(f"our extra parameter {mine['name']!r} is required")
    return problems


def _default_problems(
    name: str, mine: str | None, parameter: dict[str, Any]
) -> list[str]:
    wanted = parameter.get("default")
    if wanted is None or wanted == DIFFERS:
        return []
    if mine is None:
        return [f"{name!r} has no default (the reference: {wanted})"]
    if wanted != OBJECT and mine != wanted:
        return [f"{name!r} defaults to {mine}, not {wanted}"]
    return []


def _check_callable(
    path: str, ours: Any, reference: dict[str, Any], problems: list[str]
) -> None:
    if not callable(ours):
        problems.append(f"{path}: not callable")
        return
    if reference.get("async") and not _is_async(ours):
        problems.append(f"{path}: not a coroutine function")
    for problem in compatible_signature(
        describe_signature(ours), reference.get("signature")
    ):
        problems.append(f"{path}: {problem}")


def _check_member(
    path: str, cls: type, name: str, reference: dict[str, Any], problems: list[str]
) -> None:
    if "left_out" in reference:
        return
    present = hasattr(cls, name) or name in instance_attributes(cls)
    if not present:
        problems.append(f"{path}: missing")
        return
    kind = reference["kind"]
    if kind not in ("method", "classmethod", "staticmethod"):
        return
    klass = _defining_class(cls, name)
    raw = vars(klass)[name] if klass is not None else None
    if isinstance(raw, property) or raw is None:
        problems.append(f"{path}: a {kind} there, an attribute here")
        return
    function = raw.__func__ if isinstance(raw, (classmethod, staticmethod)) else raw
    if kind == "method" and isinstance(raw, (classmethod, staticmethod)):
        # callable on an instance all the same; compare without ``self``
        reference = {**reference, "signature": (reference.get("signature") or [])[1:]}
        if isinstance(raw, classmethod):
            function = getattr(cls, name)
    _check_callable(path, function, reference, problems)


def _check_class(
    path: str, cls: Any, reference: dict[str, Any], problems: list[str]
) -> None:
    if "foreign" in reference:  # a third party's class (or alias): present is enough
        return
    if not inspect.isclass(cls):
        problems.append(f"{path}: not a class")
        return
    if reference.get("signature") is not None and not isinstance(cls, enum.EnumMeta):
        for problem in compatible_signature(
            _class_signature(cls), reference["signature"]
        ):
            problems.append(f"{path}(): {problem}")
    for base in reference.get("builtin_bases", ()):
        if not any(k.__name__ == base for k in cls.__mro__[1:]):
            problems.append(f"{path}: not a subclass of {base}")
    for name, value in reference.get("enum", {}).items():
        member = getattr(cls, "__members__", {}).get(name)
        if member is None:
            problems.append(f"{path}.{name}: missing enum member")
        elif repr(member.value) != value:
            problems.append(f"{path}.{name}: value {member.value!r}, not {value}")
    for name, member in reference.get("members", {}).items():
        _check_member(f"{path}.{name}", cls, name, member, problems)


def _resolve(path: str) -> tuple[bool, Any]:
    module_name, _, name = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return False, None
    if not hasattr(module, name):
        return False, None
    return True, getattr(module, name)


def check(manifest: dict[str, Any], package: str = PACKAGE) -> list[str]:
    """Every way the importable ``package`` falls short of ``manifest``."""
    problems: list[str] = []
    for module_name, entries in manifest["modules"].items():
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            problems.append(f"{module_name}: cannot be imported ({error})")
            continue
        for name, reference in entries.items():
            path = f"{module_name}.{name}"
            if "left_out" in reference:
                continue
            if not hasattr(module, name):
                problems.append(f"{path}: missing")
                continue
            value = getattr(module, name)
            home = reference.get("same_as")
            if home is not None:
                found, original = _resolve(home)
                if found and original is not value:
                    problems.append(f"{path}: not the same object as {home}")
                continue
            kind = reference["kind"]
            if kind == "class":
                _check_class(path, value, reference, problems)
            elif kind == "function":
                _check_callable(path, value, reference, problems)
            elif "value" in reference and repr(value) != reference["value"]:
                problems.append(f"{path}: {value!r}, not {reference['value']}")
    cli_module = importlib.import_module(f"{package}.cli")
    if "cli" in manifest:
        problems.extend(check_cli(manifest["cli"], cli_module.app))
    return problems


def check_cli(reference: dict[str, Any], app: Any) -> list[str]:
    problems: list[str] = []
    ours = describe_cli(app)
    for command, parameters in reference.items():
        mine = ours.get(command)
        if mine is None:
            problems.append(f"docket {command}: missing command")
            continue
        for name, wanted in parameters.items():
            have = mine.get(name)
            where = f"docket {command} ({name})"
            if have is None:
                problems.append(f"{where}: missing parameter")
                continue
            problems.extend(_cli_parameter_problems(where, have, wanted))
    return problems


def _cli_parameter_problems(
    where: str, have: dict[str, Any], wanted: dict[str, Any]
) -> list[str]:
    problems: list[str] = []
    if have["type"] != wanted["type"]:
        problems.append(f"{where}: an {have['type']}, not an {wanted['type']}")
    missing_opts = set(wanted["opts"]) - set(have["opts"])
    if missing_opts:
        problems.append(f"{where}: no {', '.join(sorted(missing_opts))}")
    missing_env = set(wanted["envvars"]) - set(have["envvars"])
    if missing_env:
        problems.append(f"{where}: does not read {', '.join(sorted(missing_env))}")
    for field in ("multiple", "flag"):
        if have[field] != wanted[field]:
            problems.append(f"{where}: {field} is {have[field]}")
    if have["required"] and not wanted["required"]:
        problems.append(f"{where}: required here")
    default = wanted.get("default")
    if default is not None and default not in (DIFFERS, OBJECT):
        if have.get("default") != default:
            problems.append(
                f"{where}: defaults to {have.get('default', 'nothing')}, not {default}"
            )
    return problems


def format_problems(problems: list[str]) -> str:
    return "\n".join(f"  {problem}" for problem in problems)
