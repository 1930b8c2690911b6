"""The JSON serializer: values as JSON text, with tags for the types JSON lacks.

Plain JSON stays plain: null, booleans, integers, finite floats, strings, arrays
(Python lists) and objects whose keys are strings not starting with ``$``. Every
other supported value is an object with exactly one ``$``-key (a *tag*):

    {"$tuple": [...]}   {"$set": [...]}   {"$frozenset": [...]}
    {"$dict": [[key, value], ...]}        (non-string or ``$``-keys)
    {"$float": "nan" | "inf" | "-inf"}    {"$bytes": "<base64>"}
    {"$datetime": "<ISO 8601>"}  {"$date": "<ISO>"}  {"$time": "<ISO>"}
    {"$timedelta": [days, seconds, microseconds]}
    {"$uuid": "<canonical text>"}         {"$decimal": "<text>"}
    {"$enum": {"type": "module:Qualified.Name", "value": <value>}}
    {"$dataclass": {"type": "module:Qualified.Name", "fields": {name: value}}}
    {"$exception": {"type": "module:Qualified.Name", "args": [...]}}

Decoding never imports anything: enum, dataclass and exception types are looked
up in modules that are already imported (a worker has imported its task modules),
so a payload cannot make a process load code. Only ``Exception`` subclasses are
rebuilt: any other type named as an exception (``SystemExit``,
``KeyboardInterrupt``, ``GeneratorExit``...), or one that cannot be found or
rebuilt, comes back as ``Exception("<type>: <args>")``. Whatever is wrong with a
document, ``loads`` raises ``MalformedPayload`` and nothing else.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import math
import sys
import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from .._errors import MalformedPayload as MalformedPayload

SUPPORTED = (
    "None, bool, int, float, str, list, tuple, dict, set, frozenset, bytes, "
    "datetime, date, time, timedelta, UUID, Decimal, Enum members, dataclass "
    "instances and exceptions"
)


def _type_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _tagged(tag: str, value: Any) -> dict[str, Any]:
    return {tag: value}


def _encode_dict(value: dict[Any, Any]) -> Any:
    if all(isinstance(k, str) and not k.startswith("$") for k in value):
        return {k: encode(v) for k, v in value.items()}
    return _tagged("$dict", [[encode(k), encode(v)] for k, v in value.items()])


def _encode_float(value: float) -> Any:
    if math.isfinite(value):
        return value
    return _tagged("$float", "nan" if math.isnan(value) else str(value))


def _encode_exception(error: BaseException) -> Any:
    try:
        args = [encode(a) for a in error.args]
    except TypeError:
        args = [str(error)]
    return _tagged("$exception", {"type": _type_path(type(error)), "args": args})


def _encode_dataclass(value: Any) -> Any:
    fields = {
        f.name: encode(getattr(value, f.name))
        for f in dataclasses.fields(value)
        if f.init
    }
    return _tagged("$dataclass", {"type": _type_path(type(value)), "fields": fields})


def encode(value: Any) -> Any:
    """``value`` as a JSON-ready structure; TypeError for unsupported types."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, enum.Enum):
        return _tagged(
            "$enum", {"type": _type_path(type(value)), "value": encode(value.value)}
        )
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _encode_float(value)
    if isinstance(value, list):
        return [encode(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, dict):
        return _encode_dict(value)  # pyright: ignore[reportUnknownArgumentType]
    if isinstance(value, tuple):
        return _tagged("$tuple", [encode(v) for v in value])  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, frozenset):
        return _tagged("$frozenset", [encode(v) for v in value])  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, set):
        return _tagged("$set", [encode(v) for v in value])  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, (bytes, bytearray)):
        return _tagged("$bytes", base64.b64encode(value).decode("ascii"))
    if isinstance(value, datetime):
        return _tagged("$datetime", value.isoformat())
    if isinstance(value, date):
        return _tagged("$date", value.isoformat())
    if isinstance(value, time):
        return _tagged("$time", value.isoformat())
    if isinstance(value, timedelta):
        return _tagged("$timedelta", [value.days, value.seconds, value.microseconds])
    if isinstance(value, uuid.UUID):
        return _tagged("$uuid", str(value))
    if isinstance(value, Decimal):
        return _tagged("$decimal", str(value))
    if isinstance(value, BaseException):
        return _encode_exception(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encode_dataclass(value)
    raise TypeError(
        f"Cannot encode a {type(value).__name__} as JSON; the json serializer "
        f"supports {SUPPORTED}"
    )


def dumps(value: Any) -> bytes:
    return json.dumps(encode(value), separators=(",", ":"), allow_nan=False).encode()


# ---- decoding -----------------------------------------------------------------


def find_type(path: Any) -> type | None:
    """The class at ``module:Qualified.Name`` in an already imported module."""
    if not isinstance(path, str):
        return None
    module_name, _, qualname = path.partition(":")
    found: Any = sys.modules.get(module_name)
    for part in qualname.split("."):
        if found is None or not part or part.startswith("__"):
            return None
        found = getattr(found, part, None)
    return found if isinstance(found, type) else None


def _decode_exception(body: dict[str, Any]) -> BaseException:
    args = [decode(a) for a in body.get("args") or []]
    cls = find_type(body.get("type"))
    if cls is not None and issubclass(cls, Exception):  # never BaseException-only
        try:
            error = cls(*args)
        except Exception:
            error = None
        if isinstance(error, Exception):
            return error
    name = str(body.get("type", "Exception")).replace(":", ".")
    return Exception(f"{name}: {', '.join(map(str, args))}")


def _decode_dataclass(body: dict[str, Any]) -> Any:
    cls = find_type(body.get("type"))
    if cls is None or not dataclasses.is_dataclass(cls):
        raise ValueError(
            f"{body.get('type')!r} is not a dataclass of an imported module"
        )
    fields = body.get("fields")
    if not isinstance(fields, dict):
        raise ValueError("a $dataclass needs an object of fields")
    return cls(**{str(k): decode(v) for k, v in fields.items()})  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]


def _decode_enum(body: dict[str, Any]) -> Any:
    cls = find_type(body.get("type"))
    if cls is None or not issubclass(cls, enum.Enum):
        raise ValueError(f"{body.get('type')!r} is not an Enum of an imported module")
    return cls(decode(body.get("value")))


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"expected a JSON array, got {type(value).__name__}")
    return [decode(v) for v in value]  # pyright: ignore[reportUnknownVariableType]


def _pairs(value: Any) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for pair in _list(value):
        if not isinstance(pair, list) or len(pair) != 2:  # pyright: ignore[reportUnknownArgumentType]
            raise ValueError("a $dict holds [key, value] pairs")
        key, item = pair  # pyright: ignore[reportUnknownVariableType]
        out[key] = item
    return out


def _float(text: Any) -> float:
    if text not in ("nan", "inf", "-inf"):
        raise ValueError(f"bad $float {text!r}")
    return float(text)


def _timedelta(value: Any) -> timedelta:
    days, seconds, microseconds = _list(value)
    return timedelta(days=days, seconds=seconds, microseconds=microseconds)


def _text(kind: Callable[[str], Any]) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"expected text, got {type(value).__name__}")
        return kind(value)

    return parse


def _body(parse: Callable[[dict[str, Any]], Any]) -> Callable[[Any], Any]:
    def checked(value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError(f"expected an object, got {type(value).__name__}")
        return parse(value)  # pyright: ignore[reportUnknownArgumentType]

    return checked


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _tuple(value: Any) -> tuple[Any, ...]:
    return tuple(_list(value))


def _set(value: Any) -> set[Any]:
    return set(_list(value))


def _frozenset(value: Any) -> frozenset[Any]:
    return frozenset(_list(value))


TAGS: dict[str, Callable[[Any], Any]] = {
    "$tuple": _tuple,
    "$set": _set,
    "$frozenset": _frozenset,
    "$dict": _pairs,
    "$float": _float,
    "$bytes": _text(_b64),
    "$datetime": _text(datetime.fromisoformat),
    "$date": _text(date.fromisoformat),
    "$time": _text(time.fromisoformat),
    "$timedelta": _timedelta,
    "$uuid": _text(uuid.UUID),
    "$decimal": _text(Decimal),
    "$enum": _body(_decode_enum),
    "$dataclass": _body(_decode_dataclass),
    "$exception": _body(_decode_exception),
}


def decode(value: Any) -> Any:
    """The Python value of a structure ``encode`` made (ValueError when malformed)."""
    if isinstance(value, list):
        return [decode(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    if not isinstance(value, dict):
        return value
    items: dict[str, Any] = value  # pyright: ignore[reportUnknownVariableType]
    if len(items) == 1:
        ((tag, body),) = items.items()
        if tag.startswith("$"):
            parse = TAGS.get(tag)
            if parse is None:
                raise ValueError(f"unknown JSON tag {tag!r}")
            return parse(body)
    return {k: decode(v) for k, v in items.items()}


def loads(data: bytes) -> Any:
    """The value of a JSON payload; ``MalformedPayload`` for any document that is
    not one (bad JSON, bad tags, numbers out of range, nesting too deep, a type's
    constructor refusing its fields...). Exceptions that are not ``Exception``s
    (KeyboardInterrupt from a signal, say) pass through untouched."""
    try:
        return decode(json.loads(data))
    except Exception as error:
        raise MalformedPayload(
            f"not a valid JSON payload: {_describe(error)}"
        ) from None


def _describe(error: Exception) -> str:
    try:
        text = f"{type(error).__name__}: {error}"
    except Exception:  # an exception whose own text fails
        text = type(error).__name__
    return text if len(text) <= 300 else text[:300] + "..."


__all__ = [
    "SUPPORTED",
    "MalformedPayload",
    "decode",
    "dumps",
    "encode",
    "find_type",
    "loads",
]
