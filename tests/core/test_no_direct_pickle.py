"""Only ``docket._codec`` may pickle: every other module goes through its Codec,
which verifies signatures before anything is unpickled."""

from __future__ import annotations

import ast
from pathlib import Path

import docket

PACKAGE = Path(docket.__file__).parent
ALLOWED = PACKAGE / "_codec" / "__init__.py"
SERIALIZERS = {
    "pickle",
    "_pickle",
    "cPickle",
    "cloudpickle",
    "dill",
    "marshal",
    "shelve",
}


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def offenders(root: Path) -> list[str]:
    """``file:line module`` for every import of a pickling module outside _codec."""
    out: list[str] = []
    for path in sorted(root.rglob("*.py")):
        if path == ALLOWED:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for line, module in _imports(tree):
            if module.split(".")[0] in SERIALIZERS:
                out.append(f"{path.relative_to(root)}:{line} {module}")
    return out


def test_nothing_but_the_codec_imports_a_pickling_module():
    """Every pickle/cloudpickle use in src/docket lives in _codec/__init__.py."""
    assert offenders(PACKAGE) == []


def test_the_check_finds_a_direct_import(tmp_path: Path):
    """The check itself works: a module importing cloudpickle is reported."""
    (tmp_path / "sneaky.py").write_text(
        "def f():\n    import cloudpickle\n    from pickle import loads\n"
    )
    assert offenders(tmp_path) == ["sneaky.py:2 cloudpickle", "sneaky.py:3 pickle"]
