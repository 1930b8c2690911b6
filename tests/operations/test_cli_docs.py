"""docs/production.md works as written: every ``python`` block runs, every ``bash``
block's commands succeed, in page order, against a real redis-server standing in
for ``redis://localhost:6379/0``."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from docket import Worker
from docket.cli import app
from tests._support import ROOT
from tests._support.servers import RedisServer

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("restore_logging")]

PAGE = ROOT / "docs" / "production.md"
DOCUMENTED_URL = "redis://localhost:6379/0"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
FILE_HEADER = re.compile(r"^# ([\w/]+\.py)\n")
PRINTED = re.compile(r"^\s*print\(.*\)\s+# (.+)$", re.MULTILINE)


def blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(PAGE.read_text())]


def commands(script: str) -> Iterator[str]:
    """The block's command lines: continuations joined, comments dropped."""
    for line in script.replace("\\\n", " ").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            yield line


@pytest.fixture
def server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.close()


class Page:
    """Runs the page's examples in a scratch directory, against ``server``."""

    def __init__(self, server: RedisServer, directory: Path, fake_runs: list[Any]):
        self.server, self.directory, self.fake_runs = server, directory, fake_runs
        self.runner = CliRunner()

    def localise(self, text: str) -> str:
        return text.replace(DOCUMENTED_URL, self.server.url)

    def python(self, code: str) -> None:
        header = FILE_HEADER.match(code)
        path = self.directory / (header.group(1) if header else "example.py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.localise(code))
        result = subprocess.run(
            [sys.executable, str(path)],
            cwd=self.directory,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, f"{code}\n---\n{result.stderr}"
        for expected in PRINTED.findall(code):  # print(x)  # what it prints
            assert expected in result.stdout, (expected, result.stdout)

    def bash(self, script: str) -> None:
        environment: dict[str, str] = {"DOCKET_URL": self.server.url}
        for line in commands(self.localise(script)):
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").partition("=")
                environment[name] = value
            elif line.startswith("docket "):
                self.docket(shlex.split(line)[1:], environment)
            elif line.startswith("redis-cli "):
                shell = line.replace("redis-cli", f"redis-cli -p {self.server.port}")
                result = subprocess.run(
                    ["bash", "-c", f"set -o pipefail; {shell}"],
                    capture_output=True,
                    text=True,
                    timeout=30,
                )
                assert result.returncode == 0, (line, result.stderr)
            else:
                raise AssertionError(f"the docs test does not know how to run: {line}")

    def docket(self, args: list[str], environment: dict[str, str]) -> None:
        long_running = args[0] == "worker" and "--until-finished" not in args
        before = len(self.fake_runs)
        result = self.runner.invoke(app, args, env=environment)
        assert result.exit_code == 0, (args, result.output)
        if long_running:  # parsed and handed to Worker.run, which is not run here
            assert len(self.fake_runs) == before + 1, args


def test_every_example_of_the_production_page_works(
    server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Each python and bash example of docs/production.md runs successfully."""
    fake_runs: list[Any] = []
    real_run = Worker.run

    async def run(**kwargs: Any) -> None:
        if kwargs.get("until_finished"):
            await real_run(**kwargs)
        else:
            fake_runs.append(kwargs)

    monkeypatch.setattr(Worker, "run", run)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".")])
    page = Page(server, tmp_path, fake_runs)
    ran = {"python": 0, "bash": 0}
    try:
        for language, body in blocks():
            if language in ran:
                getattr(page, language)(body)
                ran[language] += 1
    finally:
        for name in [n for n in sys.modules if n.split(".")[0] == "myapp"]:
            del sys.modules[name]
    assert ran["python"] >= 5 and ran["bash"] >= 6
