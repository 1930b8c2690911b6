"""The strike data model: operators, strike/restore instructions, and strike
values typed by hand.

``docket.strikelist`` re-exports the public names; import them from there.
Senders reject an unknown operator and a ``between`` value that is not an ordered
``(low, high)`` tuple with ``ValueError``. Values that cannot be hashed or compared
(a dict, a list) are accepted, as pydocket accepts them; see ``docket.strikelist``
for how they are handled (they never match).

Typed values (a ``docket strike`` argument, a dashboard form field) become Python
values as literals of a fixed list of types, never code: ``parse_literal(type_name,
text)`` is what the dashboard uses (the type comes from its own field);
``parse_typed("int:42")`` reads the command line's ``type:text`` form; a prefix
that is not one of ``LITERAL_TYPES`` is an error, unless the caller hands in a
``fallback`` (the CLI does so only behind ``--unsafe-resolve-values``). Nothing
here imports a module by name or calls anything chosen by the text.
"""

from __future__ import annotations

import decimal
import enum
import inspect
import logging
import math
import operator as op
import re
import uuid
from collections.abc import Callable, Hashable, Mapping
from datetime import date, datetime, timedelta
from typing import Any, ClassVar, Literal

from typing_extensions import Self
from uncalled_for import get_signature

from ._codec import PICKLE, STRIKE, Codec, Sealed
from ._text import as_text

logger = logging.getLogger("docket.strikelist")


class Operator(str, enum.Enum):
    EQUAL = "=="
    NOT_EQUAL = "!="
    GREATER_THAN = ">"
    GREATER_THAN_OR_EQUAL = ">="
    LESS_THAN = "<"
    LESS_THAN_OR_EQUAL = "<="
    BETWEEN = "between"

    def __str__(self) -> str:
        return self.value


LiteralOperator = Literal["==", "!=", ">", ">=", "<", "<=", "between"]
OperatorLike = Operator | LiteralOperator
FunctionLike = Callable[..., Any] | str | None
Pair = tuple[Operator, Hashable]


def _between(argument: Any, bounds: Any) -> bool:
    low, high = bounds
    return low <= argument <= high


COMPARE: dict[Operator, Callable[[Any, Any], Any]] = dict(
    zip(Operator, (op.eq, op.ne, op.gt, op.ge, op.lt, op.le, _between), strict=True)
)


def as_operator(operator: OperatorLike | str) -> Operator:
    try:
        return Operator(operator)
    except ValueError:
        choices = ", ".join(repr(o.value) for o in Operator)
        message = f"Unknown strike operator {operator!r}; expected one of {choices}"
        raise ValueError(message) from None


def value_problem(operator: Operator, value: Any) -> str | None:
    """Why ``value`` is a malformed ``between`` range, or None.

    Values that cannot be hashed or compared are not refused (pydocket accepts
    them): they are recorded, and simply never match (see ``is_usable``)."""
    if operator is not Operator.BETWEEN:
        return None
    if not isinstance(value, tuple) or len(value) != 2:  # pyright: ignore[reportUnknownArgumentType]
        return "'between' needs a (low, high) tuple"
    try:
        return None if value[0] <= value[1] else "'between' needs low <= high"
    except (TypeError, ValueError):
        return None  # bounds that cannot be compared: it matches nothing


def is_usable(value: Any) -> bool:
    """Whether a strike value can be held in the rules (it must be hashable)."""
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _raw(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def _signed_fields(fields: Mapping[Any, bytes]) -> list[bytes | None]:
    """What a strike's signature covers besides its value."""
    names = ("direction", "function", "parameter", "operator")
    if fields and isinstance(next(iter(fields)), bytes):
        return [fields.get(name.encode()) for name in names]
    return [fields.get(name) for name in names]


class StrikeInstruction:
    """One strike or restore; a ``function`` or ``parameter`` of None means any."""

    direction: ClassVar[Literal["strike", "restore"]]

    def __init__(
        self,
        function: str | None,
        parameter: str | None,
        operator: OperatorLike | str,
        value: Any,
    ) -> None:
        self.function, self.parameter = function, parameter
        self.operator, self.value = as_operator(operator), value

    @classmethod
    def build(
        cls,
        function: FunctionLike = None,
        parameter: str | None = None,
        operator: OperatorLike | str = "==",
        value: Any = None,
    ) -> Self:
        """Validate user input (a callable becomes its ``__name__``) and build one."""
        name = function.__name__ if callable(function) else function
        if name is None and parameter is None:
            raise ValueError("A strike needs a function, a parameter, or both")
        instruction = cls(name, parameter, operator, value)
        problem = (
            None if parameter is None else value_problem(instruction.operator, value)
        )
        if problem is not None:
            raise ValueError(f"Invalid strike value {value!r}: {problem}")
        return instruction

    def as_message(self, codec: Codec | None = None) -> dict[bytes, bytes]:
        """The strike stream entry; the value is serialized (and the entry signed)
        by ``codec`` (default: pickle, unsigned)."""
        codec = codec or Codec()
        message = {b"direction": self.direction.encode()}
        if self.function is not None:
            message[b"function"] = self.function.encode()
        if self.parameter is not None:
            message[b"parameter"] = self.parameter.encode()
        message[b"operator"] = self.operator.value.encode()
        sealed = codec.dumps(STRIKE, _signed_fields(message), self.value)
        message[b"value"] = sealed.blobs[0]
        if sealed.serializer != PICKLE:
            message[b"serializer"] = sealed.serializer.encode()
        if sealed.signature is not None:
            message[b"signature"] = sealed.signature
        return message

    @classmethod
    def from_message(
        cls, message: Mapping[Any, Any], codec: Codec | None = None
    ) -> StrikeInstruction:
        """The instruction of a strike stream entry. ``codec`` (default: pickle,
        unsigned) verifies it before the value is decoded: UnverifiedPayload."""
        fields = {as_text(k): _raw(v) for k, v in message.items()}
        direction = as_text(fields.get("direction", b""))
        kind = {"strike": Strike, "restore": Restore}.get(direction)
        if kind is None:
            raise ValueError(f"Unknown strike direction {direction!r}")
        function, parameter = fields.get("function"), fields.get("parameter")
        serializer = as_text(fields.get("serializer", PICKLE.encode()))
        blobs = (fields["value"],) if "value" in fields else ()
        sealed = Sealed(serializer, blobs, fields.get("signature") or None)
        values = (codec or Codec()).loads(STRIKE, _signed_fields(fields), sealed)
        return kind(
            None if function is None else as_text(function),
            None if parameter is None else as_text(parameter),
            as_operator(as_text(fields.get("operator", b"=="))),
            values[0] if values else None,
        )

    def labels(self) -> Mapping[str, str]:
        labels = {"docket.task": self.function} if self.function else {}
        if self.parameter is not None:
            labels["docket.parameter"] = self.parameter
            labels["docket.operator"] = self.operator.value
            labels["docket.value"] = repr(self.value)
        return labels

    def call_repr(self) -> str:
        value = "*" if self.parameter is None else repr(self.value)
        parameter = self.parameter or "*"
        return f"{self.function or '*'}({parameter} {self.operator.value} {value})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.call_repr()})"


class Strike(StrikeInstruction):
    direction = "strike"


class Restore(StrikeInstruction):
    direction = "restore"


def incompatible(operator: Operator, value: Any) -> None:
    logger.warning("Incompatible type for strike condition: %s %r", operator, value)


def bound_arguments(target: Any) -> dict[str, Any]:
    """The execution's arguments by name, defaults applied; {} if they don't bind."""
    try:
        signature = get_signature(target.function)
        bound = signature.bind(*target.args, **target.kwargs)
    except (TypeError, ValueError):
        return {}
    bound.apply_defaults()
    arguments: dict[str, Any] = {}
    for name, value in bound.arguments.items():
        kind = signature.parameters[name].kind
        arguments.update(
            value if kind is inspect.Parameter.VAR_KEYWORD else {name: value}
        )
    return arguments


def stream_order(message_id: str) -> tuple[int, int]:
    """A stream id ("<ms>-<seq>") as a comparable pair."""
    milliseconds, _, sequence = message_id.partition("-")
    return int(milliseconds), int(sequence or 0)


_TYPE_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _boolean(text: str) -> bool:
    word = text.strip().lower()
    if word not in ("true", "false"):
        raise ValueError(f"{text!r} is not true or false")
    return word == "true"


def _none(text: str) -> None:
    if text.strip():
        raise ValueError(f"None takes no text (got {text!r})")
    return None


def _decimal(text: str) -> decimal.Decimal:
    try:
        return decimal.Decimal(text.strip())
    except decimal.InvalidOperation:
        raise ValueError(f"{text!r} is not a decimal number") from None


def _seconds(text: str) -> timedelta:
    seconds = float(text)
    if not math.isfinite(seconds):
        raise ValueError(f"{text!r} is not a finite number of seconds")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{text!r} seconds is out of range") from None


def _date(text: str) -> date:
    return date.fromisoformat(text.strip())


def _datetime(text: str) -> datetime:
    return datetime.fromisoformat(text.strip())


# The types a strike value may have, by the name the CLI prefix and the
# dashboard's type field use; each parser takes the text and raises ValueError.
LITERAL_TYPES: dict[str, Callable[[str], Any]] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": _boolean,
    "None": _none,
    "decimal.Decimal": _decimal,
    "uuid.UUID": uuid.UUID,
    "datetime.timedelta": _seconds,
    "datetime.date": _date,
    "datetime.datetime": _datetime,
}

# A type prefix that is none of the above: the type path and the text.
Fallback = Callable[[str, str], Any]


def parse_literal(type_name: str, text: str) -> Any:
    """``text`` as a value of the type named ``type_name`` (a key of
    ``LITERAL_TYPES``); ValueError names what is wrong."""
    parser = LITERAL_TYPES.get(type_name)
    if parser is None:
        raise ValueError(
            f"unknown value type {type_name!r}; use one of {', '.join(LITERAL_TYPES)}"
        )
    try:
        return parser(text)
    except (ValueError, TypeError, ArithmeticError) as error:
        raise ValueError(f"{text!r} is not a valid {type_name}: {error}") from None


def parse_typed(value: str | None, fallback: Fallback | None = None) -> Any:
    """The command line's ``type:text``: ``int:42`` is 42, plain text stays a
    string, and the text after the *first* colon is the value (``str:a:b`` is
    ``'a:b'``). ``bool:x`` is true only for ``true`` (any case), as the reference
    reads it. A prefix outside ``LITERAL_TYPES`` goes to ``fallback`` when one
    is given, and is a ValueError otherwise."""
    if value is None:
        return None
    type_path, colon, text = value.partition(":")
    if not colon or not _TYPE_PATH.match(type_path):
        return value
    if type_path == "bool":
        return text.strip().lower() == "true"
    if type_path in LITERAL_TYPES:
        return parse_literal(type_path, text)
    if fallback is not None:
        return fallback(type_path, text)
    raise ValueError(
        f"unknown type {type_path!r} in {value!r}: the types are "
        f"{', '.join(LITERAL_TYPES)} (write str:{value} for a string with a colon)"
    )


def split_between(value: str) -> tuple[str, str]:
    """``LOW,HIGH`` (split at the first comma) for the ``between`` operator."""
    low, comma, high = value.partition(",")
    if not comma:
        raise ValueError("'between' takes LOW,HIGH, for example int:10,int:100")
    return low, high
