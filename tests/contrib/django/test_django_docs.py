"""Every ```python example of docs/django.md runs, in order, as a Django project
in a scratch directory (files named by a first-line comment are saved there), on
a redis-server of its own; under Django 6 or Django 5.2 with the backport,
whichever this interpreter has (scripts/test.sh runs both)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._support import ROOT
from tests._support.servers import RedisServer
from tests.behaviours.test_docs_examples import LOCAL_REDIS, NOT_RUN, examples

PAGE = ROOT / "docs" / "django.md"
EXAMPLES = examples(PAGE)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def page_redis() -> Iterator[RedisServer]:
    server = RedisServer(durable=False).start()
    try:
        yield server
    finally:
        server.close()


def test_the_page_has_runnable_examples() -> None:
    """The page shows settings, tasks and scripts that run (none is skipped)."""
    assert not any(example.skipped for example in EXAMPLES), NOT_RUN
    assert sum(1 for e in EXAMPLES if e.is_script) >= 2


@pytest.mark.parametrize(
    "example", EXAMPLES, ids=[f"django.md:{e.line}" for e in EXAMPLES]
)
def test_example_runs(example, page_redis: RedisServer, tmp_path: Path) -> None:  # noqa: ANN001
    """The example runs to completion (exit status 0), after the page's earlier
    files are saved, as a script or (a project file) imported with Django set up."""
    for earlier in EXAMPLES:
        if earlier.line <= example.line and earlier.file_name is not None:
            target = tmp_path / earlier.file_name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(LOCAL_REDIS.sub(page_redis.url, earlier.code))
            for package in target.relative_to(tmp_path).parents:
                init = tmp_path / package / "__init__.py"
                if package != Path(".") and not init.exists():
                    init.write_text("")
    page_redis.cli("FLUSHALL")
    code = LOCAL_REDIS.sub(page_redis.url, example.code)
    if example.is_script:
        script = tmp_path / (example.file_name or "example.py")
        script.write_text(code)
        command = [sys.executable, str(script)]
    else:
        assert example.file_name is not None
        module = example.file_name.removesuffix(".py").replace("/", ".")
        setup = "" if module == "mysite.settings" else "import django; django.setup(); "
        command = [sys.executable, "-c", f"{setup}import {module}"]
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("DOCKET_", "DJANGO_"))
    }
    environment["PYTHONPATH"] = f"{tmp_path}{os.pathsep}{ROOT / 'src'}"
    if not example.is_script:  # a module of the project: imported with Django set up
        environment["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
    result = subprocess.run(
        command,
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, (
        f"django.md:{example.line} failed\n--- stdout\n{result.stdout}"
        f"\n--- stderr\n{result.stderr}"
    )
