"""The task message: its stream fields encoded, decoded and checked in one place.

A message in ``P:stream`` (or parked at ``P:K``) carries ``key``, ``function``,
``when`` (ISO 8601 with a time zone), ``attempt``, ``generation`` and the
serialized ``args`` and ``kwargs`` (plus ``traceparent``/``tracestate`` when
tracing, ``serializer`` when it is not pickle, and ``signature`` when the
docket has signing keys). Anyone who can write to Redis can write a message, so
nothing here trusts a field: every problem is a ``MalformedMessage`` naming the
field (``UnverifiedMessage`` for a missing or wrong signature), and the
arguments are verified before they are decoded. The signature covers the docket's
name, the task name, key, ``when``, ``attempt``, serializer and both payloads
(not ``generation``, which the server assigns); docs/security.md gives the exact
wire format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .._errors import MalformedMessage as MalformedMessage
from .._errors import UnverifiedMessage as UnverifiedMessage
from . import JSON, PICKLE, TASK, Codec, Sealed, UnverifiedPayload

LOWEST_PRIORITY, DEFAULT_PRIORITY, HIGHEST_PRIORITY = 1, 5, 9


def check_priority(priority: object, what: str = "priority") -> int:
    """A priority given by a caller: an int from 1 (lowest) to 9 (highest), or a
    clear error (TypeError for anything but an int, a bool included; ValueError
    out of range), raised before anything is written."""
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise TypeError(
            f"{what} must be an int from {LOWEST_PRIORITY} (lowest) to "
            f"{HIGHEST_PRIORITY} (highest), got {type(priority).__name__} "
            f"{priority!r}"
        )
    if not LOWEST_PRIORITY <= priority <= HIGHEST_PRIORITY:
        raise ValueError(
            f"{what} must be from {LOWEST_PRIORITY} (lowest) to "
            f"{HIGHEST_PRIORITY} (highest), got {priority}"
        )
    return priority


@dataclass(frozen=True, slots=True)
class TaskMessage:
    key: str
    function: str
    when: datetime
    attempt: int
    generation: int
    args: bytes
    kwargs: bytes
    serializer: str = PICKLE
    signature: bytes | None = None
    # The exact bytes of the signed envelope fields: function, key, when, attempt.
    envelope: tuple[bytes | None, ...] = ()
    # 1 (lowest) .. 9 (highest); written only when not 5. Not signed: it orders
    # the work, it never changes what runs.
    priority: int = DEFAULT_PRIORITY


def encode_message(
    codec: Codec,
    key: str,
    function: str,
    when: str,
    attempt: int,
    generation: int,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    priority: int = DEFAULT_PRIORITY,
) -> dict[bytes, bytes]:
    """The stream fields of one task message, signed when the codec signs."""
    envelope = (function.encode(), key.encode(), when.encode(), str(attempt).encode())
    payload = list(args) if codec.serializer == JSON else args
    sealed = codec.dumps(TASK, envelope, payload, kwargs)
    message = {
        b"key": envelope[1],
        b"when": envelope[2],
        b"function": envelope[0],
        b"args": sealed.blobs[0],
        b"kwargs": sealed.blobs[1],
        b"attempt": envelope[3],
        b"generation": str(generation).encode(),
    }
    if sealed.serializer != PICKLE:
        message[b"serializer"] = sealed.serializer.encode()
    if sealed.signature is not None:
        message[b"signature"] = sealed.signature
    if priority != DEFAULT_PRIORITY:
        message[b"priority"] = str(priority).encode()
    return message


def _text(fields: Mapping[bytes, bytes], name: str) -> str:
    value = fields.get(name.encode())
    if value is None:
        raise MalformedMessage(f"the {name!r} field is missing")
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise MalformedMessage(f"the {name!r} field is not UTF-8 text") from None


def _integer(fields: Mapping[bytes, bytes], name: str, default: int, low: int) -> int:
    if name.encode() not in fields:
        return default
    text = _text(fields, name)
    try:
        number = int(text)
    except ValueError:
        raise MalformedMessage(
            f"the {name!r} field is not an integer: {text!r}"
        ) from None
    if number < low:
        raise MalformedMessage(f"the {name!r} field is below {low}: {number}")
    return number


def _when(fields: Mapping[bytes, bytes]) -> datetime:
    text = _text(fields, "when")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedMessage(
            f"the 'when' field is not an ISO time: {text!r}"
        ) from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise MalformedMessage(f"the 'when' field has no time zone: {text!r}")
    return when


def _blob(fields: Mapping[bytes, bytes], name: str) -> bytes:
    value = fields.get(name.encode())
    if value is None:
        raise MalformedMessage(f"the {name!r} field is missing")
    return value


def decode_message(fields: Mapping[bytes, bytes]) -> TaskMessage:
    """The envelope of a task message (payloads still pickled), or MalformedMessage.

    The common case (a well-formed message) takes one quick pass; anything odd is
    decoded again field by field, so that the error names what is wrong."""
    try:
        raw_function, raw_key = fields[b"function"], fields[b"key"]
        raw_when, raw_attempt = fields[b"when"], fields.get(b"attempt")
        key = raw_key.decode()
        function = raw_function.decode()
        when = datetime.fromisoformat(raw_when.decode())
        attempt = 1 if raw_attempt is None else int(raw_attempt)
        generation = int(fields.get(b"generation", b"0"))
        args, kwargs = fields[b"args"], fields[b"kwargs"]
        serializer = fields.get(b"serializer", b"pickle").decode()
        raw_priority = fields.get(b"priority")
        priority = DEFAULT_PRIORITY if raw_priority is None else int(raw_priority)
    except (KeyError, ValueError):  # UnicodeDecodeError is a ValueError too
        return _decode_carefully(fields)
    if (
        key
        and function
        and LOWEST_PRIORITY <= priority <= HIGHEST_PRIORITY
        and attempt >= 1
        and generation >= 0
        and when.tzinfo is not None
        and when.utcoffset() is not None
    ):
        return TaskMessage(
            key,
            function,
            when,
            attempt,
            generation,
            args,
            kwargs,
            serializer,
            fields.get(b"signature") or None,
            (raw_function, raw_key, raw_when, raw_attempt),
            priority,
        )
    return _decode_carefully(fields)


def _decode_carefully(fields: Mapping[bytes, bytes]) -> TaskMessage:
    key = _text(fields, "key")
    if not key:
        raise MalformedMessage("the 'key' field is empty")
    function = _text(fields, "function")
    if not function:
        raise MalformedMessage("the 'function' field is empty")
    serializer = _text(fields, "serializer") if b"serializer" in fields else PICKLE
    priority = _integer(fields, "priority", DEFAULT_PRIORITY, LOWEST_PRIORITY)
    if priority > HIGHEST_PRIORITY:
        raise MalformedMessage(
            f"the 'priority' field is above {HIGHEST_PRIORITY}: {priority}"
        )
    return TaskMessage(
        key=key,
        function=function,
        when=_when(fields),
        attempt=_integer(fields, "attempt", 1, 1),
        generation=_integer(fields, "generation", 0, 0),
        args=_blob(fields, "args"),
        kwargs=_blob(fields, "kwargs"),
        serializer=serializer,
        signature=fields.get(b"signature") or None,
        envelope=tuple(
            fields.get(f) for f in (b"function", b"key", b"when", b"attempt")
        ),
        priority=priority,
    )


def resealed_message(
    codec: Codec, message: TaskMessage, when: datetime, attempt: int = 1
) -> dict[bytes, bytes]:
    """``message`` due at ``when``, its payloads put back as they were stored,
    without decoding them (a replay). Its signature is checked first, against
    its own envelope, and the new envelope is signed with the codec's key:
    ``UnverifiedMessage`` when the stored message does not verify."""
    sealed = Sealed(
        message.serializer, (message.args, message.kwargs), message.signature
    )
    envelope = (
        message.function.encode(),
        message.key.encode(),
        when.isoformat().encode(),
        str(attempt).encode(),
    )
    try:
        sealed = codec.reseal(TASK, message.envelope, envelope, sealed)
    except UnverifiedPayload as problem:
        raise UnverifiedMessage.refusing(problem) from None
    fields = {
        b"key": envelope[1],
        b"when": envelope[2],
        b"function": envelope[0],
        b"args": message.args,
        b"kwargs": message.kwargs,
        b"attempt": envelope[3],
        b"generation": b"0",
    }
    if sealed.serializer != PICKLE:
        fields[b"serializer"] = sealed.serializer.encode()
    if sealed.signature is not None:
        fields[b"signature"] = sealed.signature
    if message.priority != DEFAULT_PRIORITY:
        fields[b"priority"] = str(message.priority).encode()
    return fields


def open_arguments(
    codec: Codec, message: TaskMessage
) -> tuple[tuple[object, ...], dict[str, object]]:
    """Verify, then decode and check the arguments of ``message``.

    Raises ``UnverifiedMessage`` before decoding anything it cannot trust,
    ``MalformedMessage`` for arguments of the wrong shape, and whatever decoding
    raises for an unreadable payload."""
    sealed = Sealed(
        message.serializer, (message.args, message.kwargs), message.signature
    )
    try:
        args, kwargs = codec.loads(TASK, message.envelope, sealed)
    except UnverifiedPayload as problem:
        raise UnverifiedMessage.refusing(problem) from None
    if message.serializer == JSON and isinstance(args, list):
        args = tuple(args)  # pyright: ignore[reportUnknownArgumentType]
    return check_arguments(args, kwargs)


def check_arguments(
    args: object, kwargs: object
) -> tuple[tuple[object, ...], dict[str, object]]:
    """Unpickled ``args`` must be a tuple (or a list, as earlier pydocket producers
    wrote them) and ``kwargs`` a dict keyed by strings."""
    if isinstance(args, list):
        args = tuple(args)  # pyright: ignore[reportUnknownArgumentType]
    if not isinstance(args, tuple):
        raise MalformedMessage(
            f"'args' is a {type(args).__name__}, not a tuple or a list"
        )
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise MalformedMessage(
            f"'kwargs' is a {type(kwargs).__name__}, not a dict of str keys"
        )
    return args, kwargs  # pyright: ignore[reportUnknownVariableType]


def identity(fields: Mapping[bytes, bytes]) -> tuple[str, str, int]:
    """(key, function, generation) of any entry, however broken, for reports."""

    def text(name: bytes, default: str) -> str:
        return fields.get(name, default.encode()).decode(errors="replace")

    try:
        generation = int(text(b"generation", "0"))
    except ValueError:
        generation = 0
    return text(b"key", ""), text(b"function", "?"), generation


__all__ = [
    "DEFAULT_PRIORITY",
    "HIGHEST_PRIORITY",
    "LOWEST_PRIORITY",
    "MalformedMessage",
    "TaskMessage",
    "UnverifiedMessage",
    "check_arguments",
    "check_priority",
    "decode_message",
    "encode_message",
    "identity",
    "open_arguments",
    "resealed_message",
]
