"""Parameter annotations that are not dependencies, and the log call representation.

An :class:`Annotation` is placed in ``Annotated`` metadata, either as an instance
(``Annotated[str, Logged(length_only=True)]``) or as the bare class
(``Annotated[str, Logged]``), which counts as a default instance.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable, Mapping, Sized
from dataclasses import dataclass
from typing import (
    Annotated,
    Any,
    TypeVar,
    cast,
    get_args,
    get_origin,
    get_type_hints,
)

from typing_extensions import Self
from uncalled_for import Dependency

from .instrumentation import CACHE_SIZE as CACHE_SIZE

V = TypeVar("V")

_POSITIONAL = (
    inspect.Parameter.POSITIONAL_ONLY,
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
)


class _FunctionCache(dict[Any, V]):
    """Values computed per callable: weakly keyed when possible, else strongly."""

    def __init__(self) -> None:
        super().__init__()
        self._weak: weakref.WeakKeyDictionary[Any, V] = weakref.WeakKeyDictionary()

    def lookup(self, function: Any) -> V | None:
        try:
            return self._weak.get(function)
        except TypeError:
            try:
                return self.get(function)
            except TypeError:
                return None

    def store(self, function: Any, value: V) -> None:
        try:
            self._weak[function] = value
        except TypeError:
            try:
                self[function] = value
            except TypeError:
                pass  # unhashable and not weak-referenceable: not cached

    def size(self) -> int:
        return len(self._weak) + len(self)


def _metadata(hint: Any) -> tuple[Any, ...]:
    if get_origin(hint) is Annotated:
        return tuple(get_args(hint)[1:])
    return ()


def _parameter_hints(function: Callable[..., Any]) -> dict[str, Any]:
    """Each parameter's annotation, with string annotations resolved when possible.

    When the hints cannot all be resolved together (say one names a local
    class), each string annotation is evaluated alone and skipped on failure.
    """
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return {}
    target = getattr(function, "__func__", function)
    try:
        hints = get_type_hints(target, include_extras=True)
    except Exception:
        hints = {}
    namespace = getattr(inspect.unwrap(target), "__globals__", {})
    resolved: dict[str, Any] = {}
    for name, parameter in parameters.items():
        hint = hints.get(name, parameter.annotation)
        if isinstance(hint, str):
            try:
                hint = eval(hint, dict(namespace))
            except Exception:
                continue
        resolved[name] = hint
    return resolved


class Annotation:
    """Base class for markers placed in a parameter's ``Annotated`` metadata."""

    _caches: dict[type[Annotation], _FunctionCache[Mapping[str, Annotation]]] = {}

    @classmethod
    def annotated_parameters(
        cls, signature: inspect.Signature | Callable[..., Any]
    ) -> Mapping[str, Self]:
        """The parameters annotated with this class, by name: of an
        ``inspect.Signature`` (as pydocket takes it), or of a function (whose
        string annotations are resolved in its module).

        Bare classes in the metadata count as default instances; when several
        match, the last one wins. Results are cached per class and signature or
        function.
        """
        cache = Annotation._caches.setdefault(cls, _FunctionCache())
        cached = cache.lookup(signature)
        if cached is not None:
            return cast(Mapping[str, Self], cached)
        if isinstance(signature, inspect.Signature):
            hints = {
                name: parameter.annotation
                for name, parameter in signature.parameters.items()
            }
        else:
            hints = _parameter_hints(signature)
        found: dict[str, Self] = {}
        for name, hint in hints.items():
            for item in _metadata(hint):
                if isinstance(item, cls):
                    found[name] = item
                elif isinstance(item, type) and issubclass(item, cls):
                    found[name] = item()
        cache.store(signature, found)
        return found

    @classmethod
    def cache_size(cls) -> int:
        """How many functions have cached annotation lookups (all classes)."""
        return sum(cache.size() for cache in Annotation._caches.values()) + (
            _layouts.size()
        )


class Logged(Annotation):
    """Show this argument's value in log lines (``length_only``: just its size)."""

    def __init__(self, length_only: bool = False) -> None:
        self.length_only = length_only

    def __repr__(self) -> str:
        return f"Logged(length_only={self.length_only!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Logged) or type(other) is not type(self):
            return False
        return other.length_only == self.length_only

    def __hash__(self) -> int:
        return hash((type(self), self.length_only))

    def format(self, argument: Any) -> str:
        if not self.length_only or not isinstance(argument, Sized):
            return repr(argument)
        if isinstance(argument, (dict, set, frozenset)):
            return f"{{len {len(argument)}}}"
        if isinstance(argument, tuple):
            return f"(len {len(argument)})"
        return f"[len {len(argument)}]"


class FairShare(Annotation):
    """Share the worker slots given to this task fairly between the values of the
    annotated parameter (``tenant: Annotated[str, FairShare()]``).

    Among the due tasks of the task, the next to start comes from the value served
    least so far, weighted (``Docket.set_fair_share_weight``): a value with a few
    tasks queued finishes in about the time its own work takes, however many tasks
    other values have queued. ``max_queued`` (optional) caps how many tasks of one
    value may wait in its backlog; an add beyond it raises ``FairShareFull``. The
    parameter's value must be a ``str``. docs/priorities-and-fairness.md.
    """

    def __init__(self, *, max_queued: int | None = None) -> None:
        if max_queued is not None and (
            isinstance(max_queued, bool) or not isinstance(max_queued, int)
        ):
            raise TypeError(
                f"max_queued must be an int or None, not {type(max_queued).__name__}"
            )
        if max_queued is not None and max_queued < 1:
            raise ValueError(f"max_queued must be at least 1, got {max_queued}")
        self.max_queued = max_queued

    def __repr__(self) -> str:
        return f"FairShare(max_queued={self.max_queued!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.max_queued == self.max_queued  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]

    def __hash__(self) -> int:
        return hash((type(self), self.max_queued))


@dataclass(frozen=True, slots=True)
class _FairParameter:
    name: str
    share: FairShare
    signature: inspect.Signature | None


_NOT_FAIR = _FairParameter("", FairShare(), None)
_fair_parameters: _FunctionCache[_FairParameter] = _FunctionCache()


def fair_share_parameter(function: Callable[..., Any]) -> _FairParameter | None:
    """The parameter of ``function`` annotated ``FairShare()``, or None (cached).
    Raises TypeError when more than one parameter is."""
    cached = _fair_parameters.lookup(function)
    if cached is None:
        found = FairShare.annotated_parameters(function)
        if len(found) > 1:
            raise TypeError(
                f"{getattr(function, '__name__', function)!r} annotates more than one "
                f"parameter with FairShare ({', '.join(sorted(found))}): a task shares "
                "its slots by one parameter"
            )
        cached = _NOT_FAIR
        for name, share in found.items():
            cached = _FairParameter(name, share, inspect.signature(function))
        _fair_parameters.store(function, cached)
    return None if cached is _NOT_FAIR else cached


def fair_share_value(
    function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[str, FairShare] | None:
    """(value of the FairShare parameter in this call, its FairShare), or None for
    a task without one. Raises TypeError for a missing or non-``str`` value."""
    found = fair_share_parameter(function)
    if found is None or found.signature is None:
        return None
    try:
        bound = found.signature.bind_partial(*args, **kwargs)
    except TypeError as error:
        raise TypeError(f"FairShare parameter {found.name!r}: {error}") from None
    if found.name in bound.arguments:
        value = bound.arguments[found.name]
    else:
        default = found.signature.parameters[found.name].default
        if default is inspect.Parameter.empty:
            raise TypeError(
                f"The FairShare parameter {found.name!r} has no value in this call"
            )
        value = default
    return check_fair_value(
        value, f"The FairShare parameter {found.name!r}"
    ), found.share


def check_fair_value(value: object, what: str = "A FairShare value") -> str:
    """A FairShare parameter's value is text (any text, encodable as UTF-8)."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError(
            f"{what} holds {value!r}, which cannot be encoded as UTF-8"
        ) from None
    return value


class _Layout:
    """How one function's arguments map onto parameters, for ``call_repr``."""

    def __init__(self, function: Callable[..., Any]) -> None:
        try:
            parameters = list(inspect.signature(function).parameters.values())
        except (TypeError, ValueError):
            parameters = []
        self.positional = [p.name for p in parameters if p.kind in _POSITIONAL]
        self.var_positional = next(
            (p.name for p in parameters if p.kind is p.VAR_POSITIONAL), None
        )
        self.var_keyword = next(
            (p.name for p in parameters if p.kind is p.VAR_KEYWORD), None
        )
        self.named = {p.name for p in parameters if p.kind is not p.VAR_KEYWORD}
        self.logged: Mapping[str, Logged] = (
            Logged.annotated_parameters(function) if parameters else {}
        )

    def for_position(self, index: int) -> Logged | None:
        if index < len(self.positional):
            return self.logged.get(self.positional[index])
        if self.var_positional is not None:
            return self.logged.get(self.var_positional)
        return None

    def for_keyword(self, name: str) -> Logged | None:
        if name in self.named:
            return self.logged.get(name)
        if self.var_keyword is not None:
            return self.logged.get(self.var_keyword)
        return None


_layouts: _FunctionCache[_Layout] = _FunctionCache()


def _layout(function: Callable[..., Any]) -> _Layout:
    layout = _layouts.lookup(function)
    if layout is None:
        layout = _Layout(function)
        _layouts.store(function, layout)
    return layout


def call_repr(
    function: Callable[..., Any],
    function_name: str,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    key: str,
) -> str:
    """``name(positional..., kw=value...){key}``, showing only ``Logged`` values.

    Unmarked arguments appear as ``...``; extra positional arguments follow the
    ``*args`` parameter's marking, extra keywords the ``**kwargs`` marking.
    """
    layout = _layout(function)
    parts: list[str] = []
    for index, value in enumerate(args):
        logged = layout.for_position(index)
        parts.append("..." if logged is None else logged.format(value))
    for name, value in kwargs.items():
        logged = layout.for_keyword(name)
        parts.append(f"{name}={'...' if logged is None else logged.format(value)}")
    return f"{function_name}({', '.join(parts)}){{{key}}}"


def _type_name(annotation: Any) -> str:
    """How a parameter's type reads in a signature: ``Annotated[str, Logged]`` (also
    as a string annotation) reads as its underlying type ``str``."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if isinstance(annotation, str):
        text = annotation.strip()
        for prefix in (
            "Annotated[",
            "typing.Annotated[",
            "typing_extensions.Annotated[",
        ):
            if text.startswith(prefix) and text.endswith("]"):
                return _first_argument(text[len(prefix) : -1])
        return text
    return getattr(annotation, "__name__", None) or str(annotation)


def _first_argument(arguments: str) -> str:
    """The first top-level item of ``a, b[c, d], e`` (brackets nest)."""
    depth = 0
    for index, char in enumerate(arguments):
        if char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        elif char == "," and depth == 0:
            return arguments[:index].strip()
    return arguments.strip()


def compact_signature(signature: inspect.Signature) -> str:
    """``name: Type = default`` for each non-dependency parameter, ``...`` for the rest."""
    parts: list[str] = []
    hidden = False
    for parameter in signature.parameters.values():
        if isinstance(parameter.default, Dependency):
            hidden = True
            continue
        text = parameter.name
        if parameter.annotation is not inspect.Parameter.empty:
            annotation = parameter.annotation
            text += f": {_type_name(annotation)}"
        if parameter.default is not inspect.Parameter.empty:
            text += f" = {parameter.default!r}"
        parts.append(text)
    if hidden:
        parts.append("...")
    return ", ".join(parts)


__all__ = [
    "Annotation",
    "FairShare",
    "Logged",
    "call_repr",
    "check_fair_value",
    "compact_signature",
    "fair_share_parameter",
    "fair_share_value",
]
