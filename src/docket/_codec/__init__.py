"""Encoding, once: payloads (pickle or JSON, optionally signed), times and events.

This is the only module that pickles or unpickles (a test enforces it). Every
payload the system writes goes through ``Codec.dumps`` and every read through
``Codec.loads``, which checks the signature (when signing keys are configured)
*before* anything is unpickled, and refuses pickles outright on a docket whose
serializer is ``json``.

A signature (format v2) covers a purpose tag, the serializer, the docket's name,
the fields that give the payload its meaning (task name and key, a result's run
generation...) and the payload bytes. Format v1 signatures (no docket name, no
run) are recognised only to be refused with a reason naming them, unless the
codec is told to accept them during an upgrade (``DOCKET_SIGNING_ACCEPT_V1``).
"""

from __future__ import annotations

import base64
import os
import pickle
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import cloudpickle  # type: ignore[import-untyped]

from .. import _clock, _defaults
from .._errors import V1_REFUSED as V1_REFUSED
from .._errors import UnverifiedPayload as UnverifiedPayload
from .._errors import V1Signature as V1Signature
from . import tagged_json as _json_codec
from .signing import KeyLike, Part, Signer, environment_keys
from .tagged_json import MalformedPayload

PICKLE = "pickle"
JSON = "json"
SERIALIZERS = (PICKLE, JSON)


@dataclass(frozen=True, slots=True)
class Purpose:
    """What a signature is for: its tag (a signature made for one kind of payload
    never verifies another), and the v1 form it replaced, which signed the
    first ``v1_fields`` of today's fields (None: all) and no docket name."""

    tag: bytes
    v1_tag: bytes
    v1_fields: int | None = None


# Task arguments: fields function, key, when, attempt.
TASK = Purpose(b"docket.task.v2", b"docket.task.v1")
# Results and exceptions: fields key, run generation (v1 signed the key only).
RESULT = Purpose(b"docket.result.v2", b"docket.result.v1", 1)
ERROR = Purpose(b"docket.error.v2", b"docket.error.v1", 1)
# Strike values: fields direction, function, parameter, operator.
STRIKE = Purpose(b"docket.strike.v2", b"docket.strike.v1")
# Signal payloads (docket.signal): field the signal's name.
SIGNAL = Purpose(b"docket.signal.v2", b"docket.signal.v1")


_EMPTY: dict[type, bytes] = {
    tuple: cloudpickle.dumps(()),  # pyright: ignore[reportUnknownMemberType]
    dict: cloudpickle.dumps({}),  # pyright: ignore[reportUnknownMemberType]
}


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
    """A docket's serializer and (optional) signer; ``docket`` is the name every
    signature binds (a payload signed for one docket never verifies in another)."""

    def __init__(
        self,
        serializer: str = PICKLE,
        signing_keys: Sequence[KeyLike] = (),
        docket: str = "",
        accept_v1: bool = False,
    ) -> None:
        self.serializer = check_serializer(serializer)
        self.signer = Signer(signing_keys) if signing_keys else None
        self.docket = docket
        self._scope = docket.encode()
        self.accept_v1 = accept_v1
        # No keys and pickle: nothing to verify (the drop-in case, kept cheap).
        self._plain = self.signer is None and self.serializer == PICKLE

    @classmethod
    def configured(
        cls,
        serializer: str | None,
        signing_keys: Sequence[KeyLike] | None,
        docket: str = "",
    ) -> Codec:
        """None for either means: from ``DOCKET_SERIALIZER`` /
        ``DOCKET_SIGNING_KEYS`` (or ``DOCKET_SIGNING_KEYS_FILE``); v1 signatures
        are accepted only while ``DOCKET_SIGNING_ACCEPT_V1`` says so."""
        if serializer is None:
            env = os.environ.get(_defaults.ENV_SERIALIZER, "").strip().lower()
            serializer = env or _defaults.SERIALIZER
        if signing_keys is None:
            signing_keys = environment_keys()
        return cls(serializer, signing_keys, docket, accept_v1_from_environment())

    @property
    def signing(self) -> bool:
        return self.signer is not None

    def __repr__(self) -> str:
        signed = "signed" if self.signer else "unsigned"
        return f"<Codec {self.serializer} {signed} for {self.docket!r}>"

    # ---- writing ----------------------------------------------------------------

    def encode(self, value: Any) -> bytes:
        """One value in this docket's serializer (no signature)."""
        if type(value) in _EMPTY and not value and self.serializer == PICKLE:
            return _EMPTY[type(value)]  # most calls pass no args or no kwargs
        if self.serializer == JSON:
            return _json_codec.dumps(value)
        return cloudpickle.dumps(value)  # pyright: ignore[reportUnknownMemberType]

    def dumps(self, purpose: Purpose, fields: Sequence[Part], *values: Any) -> Sealed:
        """Serialize ``values`` and sign them together with this docket's name and
        ``fields`` (the context that gives them meaning, such as the task name
        and key)."""
        blobs = tuple([self.encode(value) for value in values])
        signature = None
        if self.signer is not None:
            parts = signed_parts(purpose, self.serializer, self._scope, fields, blobs)
            signature = self.signer.sign(parts)
        return Sealed(self.serializer, blobs, signature)

    # ---- reading ----------------------------------------------------------------

    def verify(self, purpose: Purpose, fields: Sequence[Part], sealed: Sealed) -> bool:
        """Raise UnverifiedPayload unless ``sealed`` may be decoded here; True
        when it carries a current signature (or needs none), False for a v1
        signature accepted during an upgrade."""
        serializer = sealed.serializer
        if serializer not in SERIALIZERS:
            raise UnverifiedPayload(f"unknown serializer {serializer!r}")
        if serializer == PICKLE and self.serializer == JSON:
            raise UnverifiedPayload(
                "it is pickled, and this docket's serializer is 'json' "
                "(pickles are never loaded)"
            )
        if self.signer is None:
            return True
        if not sealed.signature:
            raise UnverifiedPayload(
                "it is not signed, and this docket requires signatures"
            )
        parts = signed_parts(purpose, serializer, self._scope, fields, sealed.blobs)
        if self.signer.verify(sealed.signature, parts):
            return True
        # Refused either way; only the reason (and an upgrade's opt-in) differs.
        if self.signer.verify(sealed.signature, v1_parts(purpose, sealed, fields)):
            if self.accept_v1:
                return False
            raise V1Signature()
        raise UnverifiedPayload(
            "its signature matches none of this docket's signing keys"
        )

    def reseal(
        self,
        purpose: Purpose,
        fields: Sequence[Part],
        new_fields: Sequence[Part],
        sealed: Sealed,
    ) -> Sealed:
        """The same blobs with a signature over ``new_fields`` (None without
        keys), once ``sealed`` verifies against ``fields``: nothing is decoded."""
        self.verify(purpose, fields, sealed)
        signature = None
        if self.signer is not None:
            parts = signed_parts(
                purpose, sealed.serializer, self._scope, new_fields, sealed.blobs
            )
            signature = self.signer.sign(parts)
        return Sealed(sealed.serializer, sealed.blobs, signature)

    def loads(
        self, purpose: Purpose, fields: Sequence[Part], sealed: Sealed
    ) -> list[Any]:
        """The values of ``sealed``, verified first (UnverifiedPayload if not)."""
        if self._plain and sealed.serializer == PICKLE:  # unsigned pickle: as before
            return [pickle.loads(blob) for blob in sealed.blobs]
        self.verify(purpose, fields, sealed)
        return [decode_blob(sealed.serializer, blob) for blob in sealed.blobs]

    # ---- stored results and exceptions -------------------------------------------

    def result_document(
        self, key: str, value: Any, generation: int, error: bool = False
    ) -> dict[str, str]:
        """A result (or exception) of run ``generation`` of task ``key`` as the
        document the result store keeps: ``{"data": base64(pickle)}`` as before,
        plus ``"serializer": "json"`` (``data`` is then the JSON text), and with
        signing keys ``"generation"`` and ``"signature"`` (over the docket, the
        key, the generation and the data)."""
        purpose = ERROR if error else RESULT
        run = str(generation).encode()
        sealed = self.dumps(purpose, [key.encode(), run], value)
        (blob,) = sealed.blobs
        if sealed.serializer == JSON:
            document = {"serializer": JSON, "data": blob.decode()}
        else:
            document = {"data": base64.b64encode(blob).decode("ascii")}
        if sealed.signature is not None:
            document["generation"] = run.decode()
            document["signature"] = sealed.signature.decode()
        return document

    def exception_document(
        self, key: str, error: BaseException, generation: int
    ) -> dict[str, str]:
        """The exception as a document; one that cannot be serialized becomes a
        plain Exception carrying its type and message, so storing never fails."""
        try:
            return self.result_document(key, error, generation, error=True)
        except Exception:
            substitute = Exception(error_text(error))
            return self.result_document(key, substitute, generation, error=True)

    def read_document(
        self, key: str, document: Any, generation: int, error: bool = False
    ) -> Any:
        """The value of a stored result (or exception) document, verified first:
        with keys, it must be signed for this docket and task key, by run
        ``generation`` (the run record's) or a later one. An exception document
        must hold an ``Exception``."""
        what = "exception" if error else "result"
        try:
            serializer = str(document.get("serializer") or PICKLE)
            data = document["data"]
            signature = document.get("signature")
            run = document.get("generation")
            if run is not None and not (isinstance(run, str) and run.isdigit()):
                raise ValueError(run)
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
        fields = [key.encode(), None if run is None else run.encode()]
        try:
            if not (self._plain and serializer == PICKLE):
                current = self.verify(ERROR if error else RESULT, fields, sealed)
                if current and self.signer is not None and int(run or 0) < generation:
                    raise UnverifiedPayload(
                        f"it was written by run {run} of the task, which is at run "
                        f"{generation} now: an earlier {what} in place of the latest"
                    )
        except UnverifiedPayload as problem:
            kind = (
                V1Signature if isinstance(problem, V1Signature) else UnverifiedPayload
            )
            text = f"The stored {what} of task {key!r} was not loaded: {problem}"
            raise kind(text) from None
        value = decode_blob(serializer, blob)
        if error and not isinstance(value, Exception):
            raise MalformedPayload(
                f"The stored exception of task {key!r} is a {type(value).__name__}, "
                "not an Exception"
            )
        return value


def accept_v1_from_environment() -> bool:
    """Whether ``DOCKET_SIGNING_ACCEPT_V1`` is on ("1", "true", "yes"; off when
    unset, empty, "0", "false" or "no"; anything else is a ValueError)."""
    name = _defaults.ENV_SIGNING_ACCEPT_V1
    value = os.environ.get(name, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ValueError(f"{name} is 1 or 0 (true/false, yes/no), not {value!r}")


def signed_parts(
    purpose: Purpose,
    serializer: str,
    docket: bytes,
    fields: Sequence[Part],
    blobs: Sequence[bytes],
) -> list[Part]:
    """What a (v2) signature covers, in order: docs/security.md spells it out."""
    return [purpose.tag, serializer.encode(), docket, *fields, *blobs]


def v1_parts(purpose: Purpose, sealed: Sealed, fields: Sequence[Part]) -> list[Part]:
    """What the v1 form of the same signature covered (no docket, fewer fields)."""
    kept = fields if purpose.v1_fields is None else fields[: purpose.v1_fields]
    return [purpose.v1_tag, sealed.serializer.encode(), *kept, *sealed.blobs]


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


now = _clock.utcnow  # the scheduling clock's moment (UTC)


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
    "MalformedPayload",
    "Purpose",
    "Sealed",
    "UnverifiedPayload",
    "V1Signature",
    "check_serializer",
    "error_text",
]
