"""The integrations are optional: a plain Docket (a worker, the CLI) imports
neither Django nor FastAPI, and ``docket.contrib.django`` without Django's
Tasks API says which extra to install."""

from __future__ import annotations

import os
import subprocess
import sys

from tests._support import ROOT

BLOCK_DJANGO = """
import importlib.abc, sys
class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("django", "django_tasks"):
            raise ImportError(f"No module named {name!r}")
        return None
sys.meta_path.insert(0, Missing())
"""


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_plain_worker_imports_no_integration() -> None:
    """Importing Docket, its worker, its CLI and its dashboard loads neither
    Django nor FastAPI."""
    result = run(
        "import sys, docket, docket.worker, docket.cli, docket.web\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('django', 'django_tasks', 'fastapi', 'docket.contrib'))\n"
        "loaded += sorted(m for m in sys.modules if m.startswith('docket.contrib'))\n"
        "print(loaded)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_django_backend_without_django_names_the_extra() -> None:
    """Without django.tasks or the backport, the import fails saying what to
    install."""
    result = run(BLOCK_DJANGO + "import docket.contrib.django")
    assert result.returncode == 1
    assert "pip install 'docket[django]'" in result.stderr
    assert "Django 6 (django.tasks)" in result.stderr


def test_the_integrations_use_only_docket_s_public_api() -> None:
    """No module of docket.contrib imports a private module or name of Docket
    (an internal restructuring must not break them)."""
    import ast

    private: list[str] = []
    for path in sorted((ROOT / "src" / "docket" / "contrib").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                module = node.module or ""
                if module.split(".")[0] != "docket" or module.startswith(
                    "docket.contrib"
                ):
                    continue
                names = [alias.name for alias in node.names]
                if any(part.startswith("_") for part in module.split(".")) or any(
                    name.startswith("_") for name in names
                ):
                    private.append(f"{path.name}: from {module} import {names}")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    if parts[0] == "docket" and any(p.startswith("_") for p in parts):
                        private.append(f"{path.name}: import {alias.name}")
    assert private == []
