"""docket's pytest plugin seen from someone else's test session: pytest loads it
through the ``pytest11`` entry point, and a session that asks for none of its
fixtures runs exactly as it does without it (nothing of docket imported, no
automatic fixture); the fixtures work in pytest-asyncio's strict and auto modes.
Each case is a real pytest run in a subprocess, in a directory of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PLAIN = """
import sys

import pytest


@pytest.fixture
def docket():  # a user's own fixtures, named as users name theirs
    return "mine"


@pytest.fixture
def worker(docket):
    return docket + "-worker"


def test_own_fixtures_win(docket, worker):
    assert (docket, worker) == ("mine", "mine-worker")


def test_nothing_of_docket_is_loaded(request):
    assert "docket" not in sys.modules
    assert not {"memory_docket", "docket_runner", "docket_clock"} & set(
        request.fixturenames
    )


@pytest.mark.parametrize("n", [1, 2])
def test_plain(n):
    assert n in (1, 2)


def test_fails():
    assert False, "an ordinary failure"
"""

USES = """
from datetime import timedelta

import pytest

from docket import Cron, _clock

MARK = {mark}


async def hourly(cron: Cron = Cron("0 * * * *", automatic=True)) -> None:
    pass


@MARK
async def test_a_virtual_day(memory_docket, docket_runner, docket_clock):
    memory_docket.register(hourly)
    await docket_clock.advance(timedelta(days=1))
    docket_runner.assert_ran(hourly, times=24)
    assert not _clock.is_real()


@MARK
async def test_the_runner_alone(memory_docket, docket_runner):
    await memory_docket.add(hourly, key="once")()
    await docket_runner.until_idle()
    docket_runner.assert_ran(hourly, times=1)


def test_the_wall_clock_is_back():
    assert _clock.is_real()
"""


def _run(directory: Path, *options: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _project(directory: Path, ini: str, module: str) -> Path:
    (directory / "pytest.ini").write_text(textwrap.dedent(ini))
    (directory / "test_module.py").write_text(module)
    return directory


def _summary(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout.strip().splitlines()[-1]


def test_a_session_without_the_fixtures_runs_unchanged(tmp_path: Path) -> None:
    """The same module gives the same outcome with the plugin and without it
    (``-p no:docket``): the user's own ``docket``/``worker`` fixtures win, no
    docket module is imported, no fixture of ours is used automatically."""
    project = _project(tmp_path, "[pytest]\n", PLAIN)
    with_plugin = _run(project)
    without = _run(project, "-p", "no:docket")
    for result in (with_plugin, without):
        assert result.returncode == 1, result.stdout + result.stderr
        assert "1 failed, 4 passed" in _summary(result), result.stdout
        assert "an ordinary failure" in result.stdout
    listing = _run(project, "--fixtures")
    assert "memory_docket" in listing.stdout and "docket_clock" in listing.stdout


@pytest.mark.parametrize(
    "mode, mark",
    [("strict", "pytest.mark.asyncio"), ("auto", "lambda test: test")],
)
def test_the_fixtures_in_both_asyncio_modes(
    tmp_path: Path, mode: str, mark: str
) -> None:
    """memory_docket, docket_runner and docket_clock work with pytest-asyncio in
    strict mode (marked tests) and in auto mode, and the wall clock is back for
    the test after."""
    ini = f"""
        [pytest]
        asyncio_mode = {mode}
        asyncio_default_fixture_loop_scope = function
        filterwarnings = error
    """
    project = _project(tmp_path, ini, USES.format(mark=mark))
    result = _run(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in _summary(result), result.stdout
