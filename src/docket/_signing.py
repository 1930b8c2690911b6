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

from . import _defaults

Part = bytes | None
KeyLike = str | bytes


def canonical(parts: Sequence[Part]) -> bytes:
    """Netstrings of ``parts`` (``-,`` for None), concatenated."""
    out = bytearray()
    for part in parts:
        if part is None:
            out += b"-,"
        else:
            out += b"%d:" % len(part)
            out += part
            out += b","
    return bytes(out)


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
        self._keys = [_key_bytes(key) for key in key_list(keys)]
        if not self._keys:
            raise ValueError("A Signer needs at least one key")

    @property
    def key_count(self) -> int:
        return len(self._keys)

    def sign(self, parts: Sequence[Part]) -> bytes:
        message = canonical(parts)
        return hmac.new(self._keys[0], message, hashlib.sha256).hexdigest().encode()

    def verify(self, signature: bytes, parts: Sequence[Part]) -> bool:
        """Whether ``signature`` is the HMAC of ``parts`` under one of the keys
        (compared in constant time, and with every key, matching or not)."""
        message = canonical(parts)
        matched = False
        for key in self._keys:
            expected = hmac.new(key, message, hashlib.sha256).hexdigest().encode()
            matched |= hmac.compare_digest(expected, signature)
        return matched

    def __repr__(self) -> str:
        return f"<Signer with {len(self._keys)} key(s)>"


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
