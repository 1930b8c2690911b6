"""Every ```python example of every docs/*.md page and of the README runs, as a
script, and succeeds; so does the demo the README's first command runs.

Conventions for the pages:

- A block preceded by ``<!-- not-run -->`` is skipped (for examples that need a
  CLI or infrastructure the tests do not provide).
- A block whose first line is ``# some/path.py`` is also saved under that path, so
  later blocks of the same page can import it; it is run (from that path) only if
  it calls ``asyncio.run(`` or has a ``__main__`` guard (otherwise it is just a
  module, and is imported to check it).
- ``redis://localhost:6379...`` URLs are pointed at a redis-server this module
  starts (and empties before each example); ``memory://`` needs nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests._support import ROOT
from tests._support.servers import RedisServer

DOCS = ROOT / "docs"
NOT_RUN = "<!-- not-run -->"
LOCAL_REDIS = re.compile(r"redis://localhost:6379(/\d+)?")
FILE_HEADER = re.compile(r"^#\s*([\w./-]+\.py)\s*$")


@dataclass(frozen=True)
class Example:
    page: str
    line: int
    code: str
    skipped: bool

    @property
    def file_name(self) -> str | None:
        match = FILE_HEADER.match(self.code.splitlines()[0]) if self.code else None
        return match.group(1) if match else None

    @property
    def is_script(self) -> bool:
        return (
            self.file_name is None
            or "asyncio.run(" in self.code
            or '__name__ == "__main__"' in self.code
        )


def examples(page: Path) -> list[Example]:
    """The page's ```python blocks, in order, with their first line number."""
    found: list[Example] = []
    lines = page.read_text().splitlines()
    index = 0
    while index < len(lines):
        if lines[index].strip() == "```python":
            start, body = index + 1, []
            index += 1
            while index < len(lines) and lines[index].strip() != "```":
                body.append(lines[index])
                index += 1
            before = [line for line in lines[: start - 1] if line.strip()]
            skipped = bool(before) and before[-1].strip() == NOT_RUN
            found.append(Example(page.name, start, "\n".join(body) + "\n", skipped))
        index += 1
    return found


# Pages whose examples need a project around them run in their own tests:
# django.md in tests/contrib/django/test_django_docs.py (a Django project).
OWN_TESTS = {"django.md"}
PAGES = [
    *(page for page in sorted(DOCS.glob("*.md")) if page.name not in OWN_TESTS),
    ROOT / "README.md",
]
ALL = [example for page in PAGES for example in examples(page)]


@pytest.fixture(scope="module")
def docs_redis() -> Iterator[RedisServer]:
    """A redis-server of our own, so that examples cannot disturb other tests."""
    server = RedisServer(durable=False).start()
    try:
        yield server
    finally:
        server.close()


def test_every_page_has_runnable_examples() -> None:
    """Each page of ours carries at least one example that is actually run."""
    ours = {
        "admission-control.md",
        "dashboard.md",
        "dependencies.md",
        "fastapi.md",
        "priorities-and-fairness.md",
        "progress.md",
        "scheduling-helpers.md",
        "strikes.md",
        "testing.md",
    }
    runnable = {e.page for e in ALL if not e.skipped and e.is_script}
    assert ours <= runnable, ours - runnable


def test_the_readme_example_is_run() -> None:
    """The README's "Using it" example is among the examples run (as written, its
    Redis URL pointed at the test's redis-server)."""
    readme = [e for e in ALL if e.page == "README.md"]
    assert readme and all(not e.skipped and e.is_script for e in readme)
    assert any("redis://localhost:6379" in e.code for e in readme)


@pytest.mark.slow
def test_the_readme_demo_runs() -> None:
    """``examples/demo.py`` (the README's first command) runs to its last line."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "demo finished" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("example", ALL, ids=[f"{e.page}:{e.line}" for e in ALL])
def test_example_runs(example: Example, docs_redis: RedisServer, tmp_path: Path):
    """The example runs to completion (exit status 0) within a minute."""
    if example.skipped:
        pytest.skip("marked <!-- not-run -->")
    for earlier in ALL:
        if earlier.page == example.page and earlier.line <= example.line:
            if earlier.file_name is not None:
                target = tmp_path / earlier.file_name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(LOCAL_REDIS.sub(docs_redis.url, earlier.code))
                for package in target.relative_to(tmp_path).parents:
                    init = tmp_path / package / "__init__.py"
                    if package != Path(".") and not init.exists():
                        init.write_text("")
    docs_redis.cli("FLUSHALL")
    code = LOCAL_REDIS.sub(docs_redis.url, example.code)
    if example.is_script:
        script = tmp_path / (example.file_name or "example.py")
        script.write_text(code)
        command = [sys.executable, str(script)]
    else:
        module = example.file_name.removesuffix(".py").replace("/", ".")  # type: ignore[union-attr]
        command = [sys.executable, "-c", f"import {module}"]
    result = run_example(command, tmp_path)
    if crashed_in_native_code(result):
        # The embedded memory:// engine (burner-redis, native code) has been seen
        # to abort an interpreter on a loaded machine, rarely (a few example runs
        # in a thousand), with "Fatal Python error: PyGILState_Release" from
        # one of its own threads. The example is run once more: a second crash,
        # or any ordinary failure, still fails the test.
        result = run_example(command, tmp_path)
    assert result.returncode == 0, (
        f"{example.page}:{example.line} failed\n--- stdout\n{result.stdout}"
        f"\n--- stderr\n{result.stderr}"
    )


def run_example(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run one example as its own process, with the checkout's sources first."""
    return subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": f"{cwd}{os.pathsep}{ROOT / 'src'}"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def crashed_in_native_code(result: subprocess.CompletedProcess[str]) -> bool:
    """Whether the process was ended by a signal with a fatal interpreter error
    (not an exception, an assertion or an exit status of the example's own)."""
    return result.returncode < 0 and "Fatal Python error" in result.stderr
