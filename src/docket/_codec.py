"""Encoding, once: task messages, run records, results, exceptions and events."""

from __future__ import annotations

import base64
import json
import traceback
from datetime import datetime, timezone
from typing import Any

import cloudpickle  # type: ignore[import-untyped]


def dumps(value: Any) -> bytes:
    return cloudpickle.dumps(value)  # pyright: ignore[reportUnknownMemberType]


def loads(data: bytes) -> Any:
    return cloudpickle.loads(data)


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


def encode_value(value: Any) -> dict[str, str]:
    """A result or exception as the stored document ``{"data": base64(pickle)}``."""
    return {"data": base64.b64encode(dumps(value)).decode("ascii")}


def decode_value(document: dict[str, Any]) -> Any:
    return loads(base64.b64decode(document["data"]))


def encode_exception(error: BaseException) -> dict[str, str]:
    """The exception as a document; one that cannot be pickled becomes a plain
    Exception carrying its type and message, so storing it never fails."""
    try:
        return encode_value(error)
    except Exception:
        return encode_value(Exception(f"{type(error).__name__}: {error}"))


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


def state_event(key: str, state: str, **fields: Any) -> str:
    return json.dumps({"type": "state", "key": key, "state": state, **fields})
