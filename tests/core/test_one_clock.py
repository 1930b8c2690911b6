"""Every decision about *when* reads ``docket._clock``: no module of the package
calls ``datetime.now()``, ``datetime.utcnow()`` or ``time.time()`` itself, except
those listed here with the reason they keep to the wall clock (display, liveness,
ids). A new direct read would escape the pytest plugin's virtual clock."""

from __future__ import annotations

import ast
from pathlib import Path

import docket

PACKAGE = Path(docket.__file__).parent

WALL_CLOCK = {
    "_clock.py": "the clock itself",
    "_broker/workers.py": "worker heartbeats: liveness",
    "_keys.py": "the time part of generated keys (uuid7)",
    "contrib/_virtual_clock.py": "a virtual clock starts from the wall clock",
    "contrib/django/runner.py": "Django's started_at/finished_at of a task",
    "contrib/django/_outcome.py": "the time part of Django result ids",
    "_console/entries.py": "what an operator's console shows",
}
SHOWN = ("web/", "cli/")  # what people read: relative to the wall clock

READS = {("datetime", "now"), ("datetime", "utcnow"), ("time", "time")}
READS |= {("time", "time_ns")}


def _reads(tree: ast.AST) -> list[int]:
    lines: list[int] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner = node.func.value
        if isinstance(owner, ast.Name) and (owner.id, node.func.attr) in READS:
            lines.append(node.lineno)
    return lines


def offenders(root: Path) -> list[str]:
    out: list[str] = []
    for path in sorted(root.rglob("*.py")):
        name = path.relative_to(root).as_posix()
        if name in WALL_CLOCK or name.startswith(SHOWN):
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        out += [f"{name}:{line}" for line in _reads(tree)]
    return out


def test_no_module_reads_the_wall_clock_behind_the_clocks_back() -> None:
    """Scheduling code reads docket._clock (time(), utcnow()), never the wall
    clock directly."""
    assert offenders(PACKAGE) == []


def test_the_check_finds_a_direct_read(tmp_path: Path) -> None:
    """The check itself sees datetime.now(...) and time.time() calls."""
    (tmp_path / "sneaky.py").write_text(
        "import time\nfrom datetime import datetime, timezone\n"
        "a = datetime.now(timezone.utc)\nb = time.time()\n"
    )
    assert offenders(tmp_path) == ["sneaky.py:3", "sneaky.py:4"]


def test_every_listed_exception_still_exists() -> None:
    """The allow-list names modules that exist (a moved one is listed again)."""
    assert [name for name in WALL_CLOCK if not (PACKAGE / name).exists()] == []
