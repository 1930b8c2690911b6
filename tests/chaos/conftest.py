"""The chaos suite: real faults against real worker processes (see README.md).

It is NOT part of the fast suite: unless ``DOCKET_CHAOS=short`` or ``long`` is
set, nothing in this folder is collected, so ``pytest`` at the top level (and
``scripts/test.sh``) skips it. ``scripts/chaos.sh [short|long]`` runs it.
Scenarios run one after another (no xdist): they measure time.
"""

from __future__ import annotations

import pytest

from tests.chaos.profiles import Profile, chosen
from tests.chaos.report import LINES

PROFILE = chosen()

if PROFILE is None:
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture
def profile() -> Profile:
    assert PROFILE is not None
    return PROFILE


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if LINES:
        terminalreporter.section(f"chaos ({PROFILE.name if PROFILE else '?'} profile)")
        for line in LINES:
            terminalreporter.write_line(line)
