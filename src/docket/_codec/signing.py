"""Signing keys and HMAC-SHA256 signatures over payloads and their meaning.

A signature is the lowercase hex HMAC-SHA256 of a *canonical* byte string: a
purpose tag followed by every signed field, each written as a netstring
(``<length>:<bytes>,``) or ``-,`` for a field that is absent, so no two field
lists share a canonical form. The first key signs; every key verifies (key
rotation: add the new key second, move it first once every process has it,
drop the old one after the last payload it signed is gone).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from .. import _defaults

Part = bytes | None
KeyLike = str | bytes


def canonical(parts: Sequence[Part]) -> bytes:
    """Netstrings of ``parts`` (``-,`` for None), concatenated."""
    if None in parts:
        return b"".join(b"-," if p is None else b"%d:%b," % (len(p), p) for p in parts)
    present = cast(Sequence[bytes], parts)
    values: list[int | bytes] = [0] * (2 * len(present))
    values[0::2] = map(len, present)
    values[1::2] = present
    return (b"%d:%b," * len(present)) % tuple(values)  # one formatting pass: cheap


def _key_bytes(key: KeyLike) -> bytes:
    if isinstance(key, str):
        key = key.encode()
    if not isinstance(key, bytes):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise TypeError(f"Signing keys are str or bytes, not {type(key).__name__}")
    if len(key) < _defaults.MIN_SIGNING_KEY_BYTES:
        raise ValueError(
            f"A signing key must be at least {_defaults.MIN_SIGNING_KEY_BYTES} bytes "
            "long; generate one with: python -c "
            '"import secrets; print(secrets.token_hex(32))"'
        )
    return key


def key_list(keys: Sequence[KeyLike]) -> list[KeyLike]:
    """``keys`` as a list; a lone str or bytes is a mistake, not a list of
    one-character keys."""
    if isinstance(keys, (str, bytes)):
        raise TypeError("signing_keys is a list of keys, not a single key")
    return list(keys)


class Signer:
    """Signs with the first key and verifies with any of them."""

    def __init__(self, keys: Sequence[KeyLike]) -> None:
        # Keyed HMAC states, copied per message (cheaper than re-keying each time).
        self._states = [
            hmac.new(_key_bytes(key), digestmod=hashlib.sha256)
            for key in key_list(keys)
        ]
        if not self._states:
            raise ValueError("A Signer needs at least one key")

    @property
    def key_count(self) -> int:
        return len(self._states)

    def sign(self, parts: Sequence[Part]) -> bytes:
        state = self._states[0].copy()
        state.update(canonical(parts))
        return state.hexdigest().encode()

    def verify(self, signature: bytes, parts: Sequence[Part]) -> bool:
        """Whether ``signature`` is the HMAC of ``parts`` under one of the keys
        (compared in constant time, and with every key, matching or not)."""
        message = canonical(parts)
        matched = False
        for keyed in self._states:
            state = keyed.copy()
            state.update(message)
            matched |= hmac.compare_digest(state.hexdigest().encode(), signature)
        return matched

    def __repr__(self) -> str:
        return f"<Signer with {len(self._states)} key(s)>"


def parse_keys(text: str) -> list[str]:
    """Comma-separated keys (the ``DOCKET_SIGNING_KEYS`` format); blanks skipped."""
    return [key.strip() for key in text.split(",") if key.strip()]


def read_keys_file(path: str | os.PathLike[str]) -> list[str]:
    """One key per line (first signs); blank lines and ``#`` comments skipped."""
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise ValueError(
            f"Cannot read the signing keys file {str(path)!r}: {error.strerror}"
        ) from None
    keys = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    if not keys:
        raise ValueError(f"The signing keys file {str(path)!r} holds no key")
    return keys


def environment_keys() -> list[str]:
    """Keys from ``DOCKET_SIGNING_KEYS`` or ``DOCKET_SIGNING_KEYS_FILE`` (not both)."""
    inline = os.environ.get(_defaults.ENV_SIGNING_KEYS, "")
    path = os.environ.get(_defaults.ENV_SIGNING_KEYS_FILE, "")
    if inline.strip() and path.strip():
        raise ValueError(
            f"Set {_defaults.ENV_SIGNING_KEYS} or {_defaults.ENV_SIGNING_KEYS_FILE}, "
            "not both"
        )
    if path.strip():
        return read_keys_file(path.strip())
    return parse_keys(inline)


__all__ = [
    "Signer",
    "canonical",
    "environment_keys",
    "key_list",
    "parse_keys",
    "read_keys_file",
]
