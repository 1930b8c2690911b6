"""Our public surface against the published pydocket's, as recorded in
compat_manifest.json (scripts/compat_manifest.py writes it from the reference):
every module, name, class member, parameter (name, kind, default), enum member
and CLI option that code written for the reference can reach. A change that drops
one fails here; what ours leaves out on purpose is listed in the manifest with the
reason, and in ARCHITECTURE.md."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import docket
from tests._support import ROOT
from tests._support.surface import check, format_problems

MANIFEST = Path(__file__).with_name("compat_manifest.json")


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return json.loads(MANIFEST.read_text())


def test_our_surface_has_everything_the_reference_has(manifest: dict[str, Any]):
    """Every recorded name, member, parameter, default and CLI option is here."""
    problems = check(manifest)
    assert not problems, "ours lacks:\n" + format_problems(problems)


def test_the_manifest_is_the_release_we_report(manifest: dict[str, Any]):
    """The manifest was taken from the release ``docket.__version__`` names, and
    covers the reference's public modules and its command line."""
    assert manifest["version"] == docket.__version__
    assert {"docket", "docket.docket", "docket.worker", "docket.cli"} <= set(
        manifest["modules"]
    )
    assert "worker" in manifest["cli"] and "snapshot" in manifest["cli"]


def _left_out(manifest: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for module, entries in manifest["modules"].items():
        for name, entry in entries.items():
            if "left_out" in entry:
                found[f"{module}.{name}"] = entry["left_out"]
            for member, described in entry.get("members", {}).items():
                if "left_out" in described:
                    found[f"{module}.{name}.{member}"] = described["left_out"]
    return found


def test_every_name_left_out_is_listed_in_architecture(manifest: dict[str, Any]):
    """ARCHITECTURE.md names each reference name we have no counterpart for."""
    text = (ROOT / "ARCHITECTURE.md").read_text()
    missing = [
        path for path in _left_out(manifest) if path.rpartition(".")[2] not in text
    ]
    assert not missing, f"not in ARCHITECTURE.md: {missing}"


@pytest.mark.parametrize(
    ("where", "change", "expected"),
    [
        (
            ("docket", "Docket"),
            lambda e: e["members"].update({"gone": {"kind": "attribute"}}),
            "docket.Docket.gone: missing",
        ),
        (
            ("docket", "Worker"),
            lambda e: e["signature"].append("renamed=1"),
            "docket.Worker(): no parameter 'renamed'",
        ),
        (
            ("docket.worker", "MESSAGE_BATCH"),
            lambda e: e.update({"value": "7"}),
            "docket.worker.MESSAGE_BATCH: 1000, not 7",
        ),
    ],
)
def test_the_check_finds_what_ours_would_lack(
    manifest: dict[str, Any], where: tuple[str, str], change: Any, expected: str
):
    """A name, member or parameter ours lacks (or a different constant) is
    reported: the check above can fail."""
    changed = copy.deepcopy(manifest)
    module, name = where
    change(changed["modules"][module][name])
    assert expected in check(changed)


def test_a_missing_cli_option_is_reported(manifest: dict[str, Any]):
    """A reference option ours lacks, or a different default, is reported."""
    changed = copy.deepcopy(manifest)
    changed["cli"]["worker"]["gone"] = {
        "type": "option",
        "opts": ["--gone"],
        "envvars": [],
        "required": False,
        "multiple": False,
        "flag": False,
    }
    changed["cli"]["worker"]["concurrency"]["default"] = "3"
    problems = check(changed)
    assert "docket worker (gone): missing parameter" in problems
    assert "docket worker (concurrency): defaults to 10, not 3" in problems
