"""The signal waits of a task call: which parameters of a task function wait for a
signal (their default is a ``SignalParameter``, which ``docket.Signal(...)``
builds), and the signal names one call waits for, formatted from its arguments.

Every add looks its function up here once (a dictionary hit after the first), so
a task without a ``Signal`` parameter pays nothing more; a call of one that has
some sends their waits to schedule.lua with its add (``mailbox.wait_fields``)."""

from __future__ import annotations

import inspect
import string
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from .mailbox import SignalWait

NO_DEFAULT: Any = object()


class SignalParameter:
    """What a ``Signal(...)`` parameter waits for: a signal name template
    formatted from the task's arguments, a timeout (None: wait as long as it
    takes), and the value the task runs with when the timeout comes
    (``NO_DEFAULT``: it fails with ``SignalTimeout`` instead)."""

    def __init__(
        self, name: str, timeout: timedelta | None = None, default: Any = NO_DEFAULT
    ) -> None:
        if not isinstance(name, str) or not name:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ValueError(f"Signal needs a non-empty name template, got {name!r}")
        if timeout is not None and not isinstance(timeout, timedelta):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"Signal timeout must be a timedelta, got {timeout!r}")
        if timeout is not None and timeout.total_seconds() <= 0:
            raise ValueError(f"Signal timeout must be positive, got {timeout}")
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(name) if f]
        except ValueError as error:
            raise ValueError(f"Signal name template {name!r}: {error}") from None
        self.template = name
        self.fields = tuple(fields)
        self.timeout = timeout
        self.default = default

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT

    def name_for(
        self,
        function: Callable[..., Any],
        arguments: Mapping[str, Any],
        parameter: str,
    ) -> str:
        """The signal name for a call whose arguments (by parameter name, defaults
        applied) are ``arguments``; a ValueError names a missing one."""
        try:
            return self.template.format_map(arguments)
        except (KeyError, IndexError) as missing:
            task = getattr(function, "__name__", repr(function))
            raise ValueError(
                f"Signal {self.template!r} of parameter {parameter!r} of task "
                f"{task!r} names {missing.args[0]!r}, which is not an argument of "
                f"this call (arguments: {', '.join(sorted(arguments)) or 'none'})"
            ) from None

    def __repr__(self) -> str:
        return f"Signal({self.template!r}, timeout={self.timeout!r})"


_PARAMETERS: dict[Callable[..., Any], tuple[tuple[str, SignalParameter], ...]] = {}


def signal_parameters(
    function: Callable[..., Any],
) -> tuple[tuple[str, SignalParameter], ...]:
    """The parameters of ``function`` that wait for a signal (looked up once)."""
    try:
        return _PARAMETERS[function]
    except KeyError:
        pass
    except TypeError:  # not hashable: looked up every time
        return _inspect(function)
    found = _PARAMETERS[function] = _inspect(function)
    return found


def _inspect(
    function: Callable[..., Any],
) -> tuple[tuple[str, SignalParameter], ...]:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return ()
    found = tuple(
        (name, p.default)
        for name, p in parameters.items()
        if isinstance(p.default, SignalParameter)
    )
    names = [spec.template for _, spec in found]
    if len(set(names)) != len(names):
        raise ValueError(
            f"Task {getattr(function, '__name__', function)!r} waits twice for one "
            "signal name template: give each Signal parameter its own name"
        )
    return found


def call_arguments(
    function: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """The arguments of a call by parameter name, defaults applied (a Signal
    parameter's own default left out)."""
    try:
        bound = inspect.signature(function).bind_partial(*args, **kwargs)
    except TypeError as error:
        task = getattr(function, "__name__", repr(function))
        raise ValueError(f"cannot name the signals of task {task!r}: {error}") from None
    bound.apply_defaults()
    return {
        name: value
        for name, value in bound.arguments.items()
        if not isinstance(value, SignalParameter)
    }


def call_waits(
    function: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    now: float,
) -> list[SignalWait]:
    """The signal waits a call of ``function`` opens when it is added at ``now``
    (empty for a task without Signal parameters)."""
    parameters = signal_parameters(function)
    if not parameters:
        return []
    arguments = call_arguments(function, args, kwargs)
    waits: list[SignalWait] = []
    for parameter, spec in parameters:
        if parameter in arguments:  # the caller passed a value: nothing to wait for
            continue
        deadline = None if spec.timeout is None else now + spec.timeout.total_seconds()
        waits.append(
            SignalWait(spec.name_for(function, arguments, parameter), deadline)
        )
    return waits


__all__ = [
    "NO_DEFAULT",
    "SignalParameter",
    "call_arguments",
    "call_waits",
    "signal_parameters",
]
