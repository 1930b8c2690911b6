"""Hostile payloads for the trust-boundary tests: pickles that create a marker
file when they are unpickled, written straight into Redis as an attacker would."""

from __future__ import annotations

import base64
import pickle
from pathlib import Path
from typing import Any

# Long enough for a signing key (16 bytes or more).
OLD_KEY = "old-signing-key-0123456789abcdef"
NEW_KEY = "new-signing-key-fedcba9876543210"
OTHER_KEY = "someone-elses-key-0123456789abcd"


class Marker:
    """Unpickling this calls ``Path.touch(path)``: the file appearing proves it ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (Path.touch, (Path(self.path),))


def marker_pickle(path: Path) -> bytes:
    """A pickle of ``(Marker,)``: shaped like task arguments."""
    return pickle.dumps((Marker(path),))


def marker_document(path: Path, signature: str | None = None) -> dict[str, str]:
    """A result-store document whose ``data`` is the marker pickle."""
    document = {"data": base64.b64encode(marker_pickle(path)).decode("ascii")}
    if signature is not None:
        document["signature"] = signature
    return document


def hostile_message(
    path: Path, key: str, function: str = "trace", signature: bytes | None = None
) -> dict[bytes, bytes]:
    """A task message an attacker XADDs: a valid envelope, marker arguments."""
    message = {
        b"key": key.encode(),
        b"when": b"2026-01-01T00:00:00+00:00",
        b"function": function.encode(),
        b"args": marker_pickle(path),
        b"kwargs": pickle.dumps({}),
        b"attempt": b"1",
        b"generation": b"0",
    }
    if signature is not None:
        message[b"signature"] = signature
    return message


def proves_marker_works(tmp_path: Path) -> None:
    """The precondition of every such test: unpickling the payload does create
    the marker (so its absence later means nothing was unpickled)."""
    probe = tmp_path / "probe"
    pickle.loads(marker_pickle(probe))
    assert probe.exists()
    probe.unlink()
