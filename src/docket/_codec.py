"""Encoding, once: payloads (pickle or JSON, optionally signed), times and events.

This is the only module that pickles or unpickles (a test enforces it). Every
payload the system writes goes through ``Codec.dumps`` and every read through
``Codec.loads``, which checks the signature (when signing keys are configured)
*before* anything is unpickled, and refuses pickles outright on a docket whose
serializer is ``json``.
"""

from __future__ import annotations

import base64
import os
import pickle
import traceback
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, NamedTuple

import cloudpickle  # type: ignore[import-untyped]

from . import _defaults, _json_codec
from ._signing import KeyLike, Part, Signer, environment_keys

PICKLE = "pickle"
JSON = "json"
SERIALIZERS = (PICKLE, JSON)

# Purpose tags: a signature made for one kind of payload never verifies another.
TASK = b"docket.task.v1"
RESULT = b"docket.result.v1"
ERROR = b"docket.error.v1"
STRIKE = b"docket.strike.v1"

_EMPTY: dict[type, bytes] = {
    tuple: cloudpickle.dumps(()),  # pyright: ignore[reportUnknownMemberType]
    dict: cloudpickle.dumps({}),  # pyright: ignore[reportUnknownMemberType]
}


class UnverifiedPayload(ValueError):
    """A payload that was not decoded because it cannot be trusted: no signature
    or a wrong one while signing keys are configured, or a pickle on a docket
    whose serializer is ``json``. The text says which."""


class Sealed(NamedTuple):
    """Serialized values as they are stored: the blobs, their serializer, and the
    signature over them (None when the docket has no signing keys). A tuple: one
    is built per message read, on the worker's hot path."""

    serializer: str
    blobs: tuple[bytes, ...]
    signature: bytes | None = None


def check_serializer(name: str) -> str:
    if name not in SERIALIZERS:
        raise ValueError(
            f"Unknown serializer {name!r}; expected one of "
            + ", ".join(repr(s) for s in SERIALIZERS)
        )
    return name


class Codec:
    """A docket's serializer and (optional) signer."""

    def __init__(
        self, serializer: str = PICKLE, signing_keys: Sequence[KeyLike] = ()
    ) -> None:
        self.serializer = check_serializer(serializer)
        self.signer = Signer(signing_keys) if signing_keys else None
        # No keys and pickle: nothing to verify (the drop-in case, kept cheap).
        self._plain = self.signer is None and self.serializer == PICKLE

    @classmethod
    def configured(
        cls, serializer: str | None, signing_keys: Sequence[KeyLike] | None
    ) -> Codec:
        """None for either means: from ``DOCKET_SERIALIZER`` /
        ``DOCKET_SIGNING_KEYS`` (or ``DOCKET_SIGNING_KEYS_FILE``)."""
        if serializer is None:
            env = os.environ.get(_defaults.ENV_SERIALIZER, "").strip().lower()
            serializer = env or _defaults.SERIALIZER
        if signing_keys is None:
            signing_keys = environment_keys()
        return cls(serializer, signing_keys)

    @property
    def signing(self) -> bool:
        return self.signer is not None

    def __repr__(self) -> str:
        signed = "signed" if self.signer else "unsigned"
        return f"<Codec {self.serializer} {signed}>"

    # ---- writing ----------------------------------------------------------------

    def encode(self, value: Any) -> bytes:
        """One value in this docket's serializer (no signature)."""
        if type(value) in _EMPTY and not value and self.serializer == PICKLE:
            return _EMPTY[type(value)]  # most calls pass no args or no kwargs
        if self.serializer == JSON:
            return _json_codec.dumps(value)
        return cloudpickle.dumps(value)  # pyright: ignore[reportUnknownMemberType]

    def dumps(self, purpose: bytes, fields: Sequence[Part], *values: Any) -> Sealed:
        """Serialize ``values`` and sign them together with ``fields`` (the
        context that gives them meaning, such as the task name and key)."""
        blobs = tuple([self.encode(value) for value in values])
        signature = None
        if self.signer is not None:
            signature = self.signer.sign(
                signed_parts(purpose, self.serializer, fields, blobs)
            )
        return Sealed(self.serializer, blobs, signature)

    # ---- reading ----------------------------------------------------------------

    def verify(self, purpose: bytes, fields: Sequence[Part], sealed: Sealed) -> None:
        """Raise UnverifiedPayload unless ``sealed`` may be decoded here."""
        serializer = sealed.serializer
        if serializer not in SERIALIZERS:
            raise UnverifiedPayload(f"unknown serializer {serializer!r}")
        if serializer == PICKLE and self.serializer == JSON:
            raise UnverifiedPayload(
                "it is pickled, and this docket's serializer is 'json' "
                "(pickles are never loaded)"
            )
        if self.signer is None:
            return
        if not sealed.signature:
            raise UnverifiedPayload(
                "it is not signed, and this docket requires signatures"
            )
        parts = signed_parts(purpose, serializer, fields, sealed.blobs)
        if not self.signer.verify(sealed.signature, parts):
            raise UnverifiedPayload(
                "its signature matches none of this docket's signing keys"
            )

    def reseal(
        self,
        purpose: bytes,
        fields: Sequence[Part],
        new_fields: Sequence[Part],
        sealed: Sealed,
    ) -> Sealed:
        """The same blobs with a signature over ``new_fields`` (None without
        keys), once ``sealed`` verifies against ``fields``: nothing is decoded."""
        self.verify(purpose, fields, sealed)
        signature = None
        if self.signer is not None:
            parts = signed_parts(purpose, sealed.serializer, new_fields, sealed.blobs)
            signature = self.signer.sign(parts)
        return Sealed(sealed.serializer, sealed.blobs, signature)

    def loads(
        self, purpose: bytes, fields: Sequence[Part], sealed: Sealed
    ) -> list[Any]:
        """The values of ``sealed``, verified first (UnverifiedPayload if not)."""
        if self._plain and sealed.serializer == PICKLE:  # unsigned pickle: as before
            return [pickle.loads(blob) for blob in sealed.blobs]
        self.verify(purpose, fields, sealed)
        return [decode_blob(sealed.serializer, blob) for blob in sealed.blobs]

    # ---- stored results and exceptions -------------------------------------------

    def result_document(
        self, key: str, value: Any, error: bool = False
    ) -> dict[str, str]:
        """A result (or exception) as the document the result store keeps:
        ``{"data": base64(pickle)}`` as before, plus ``"serializer": "json"``
        (``data`` is then the JSON text) and ``"signature"`` when they apply."""
        purpose = ERROR if error else RESULT
        sealed = self.dumps(purpose, [key.encode()], value)
        (blob,) = sealed.blobs
        if sealed.serializer == JSON:
            document = {"serializer": JSON, "data": blob.decode()}
        else:
            document = {"data": base64.b64encode(blob).decode("ascii")}
        if sealed.signature is not None:
            document["signature"] = sealed.signature.decode()
        return document

    def exception_document(self, key: str, error: BaseException) -> dict[str, str]:
        """The exception as a document; one that cannot be serialized becomes a
        plain Exception carrying its type and message, so storing never fails."""
        try:
            return self.result_document(key, error, error=True)
        except Exception:
            return self.result_document(key, Exception(error_text(error)), error=True)

    def read_document(self, key: str, document: Any, error: bool = False) -> Any:
        """The value of a stored result (or exception) document, verified first."""
        what = "exception" if error else "result"
        try:
            serializer = str(document.get("serializer") or PICKLE)
            data = document["data"]
            signature = document.get("signature")
            blob = (
                data.encode()
                if serializer == JSON
                else base64.b64decode(data, validate=True)
            )
        except (AttributeError, KeyError, TypeError, ValueError):
            raise UnverifiedPayload(
                f"The stored {what} of task {key!r} is not a result document"
            ) from None
        sealed = Sealed(serializer, (blob,), signature.encode() if signature else None)
        try:
            (value,) = self.loads(ERROR if error else RESULT, [key.encode()], sealed)
        except UnverifiedPayload as problem:
            raise UnverifiedPayload(
                f"The stored {what} of task {key!r} was not loaded: {problem}"
            ) from None
        return value


def signed_parts(
    purpose: bytes, serializer: str, fields: Sequence[Part], blobs: Sequence[bytes]
) -> list[Part]:
    return [purpose, serializer.encode(), *fields, *blobs]


def decode_blob(serializer: str, blob: bytes) -> Any:
    if serializer == JSON:
        return _json_codec.loads(blob)
    return pickle.loads(blob)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def from_iso(text: str | bytes | None) -> datetime | None:
    if not text:
        return None
    if isinstance(text, bytes):
        text = text.decode()
    return datetime.fromisoformat(text)


def now() -> datetime:
    return datetime.now(timezone.utc)


def text(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else value


def error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


MESSAGE_LIMIT = 4_000
TRACEBACK_LIMIT = 20_000


def exception_parts(error: BaseException) -> tuple[str, str, str]:
    """(type name, message, traceback text) of an exception, each bounded in
    length (a traceback keeps its end, where the error is)."""
    message = str(error)
    if len(message) > MESSAGE_LIMIT:
        message = message[:MESSAGE_LIMIT] + "..."
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    text = "".join(lines)
    if len(text) > TRACEBACK_LIMIT:
        text = "...\n" + text[-TRACEBACK_LIMIT:]
    return type(error).__name__, message, text


__all__ = [
    "JSON",
    "PICKLE",
    "Codec",
    "Sealed",
    "UnverifiedPayload",
    "check_serializer",
    "error_text",
]
