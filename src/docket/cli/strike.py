"""``docket strike`` and ``docket restore``: pause and resume tasks without a deploy."""

from __future__ import annotations

import builtins
import importlib
from typing import Annotated, Any

import typer

from .. import _defaults
from .._strikes import Operator, Restore, Strike, parse_typed, split_between
from .._text import for_terminal
from ._app import app
from ._common import run, say
from ._options import DocketName, SigningKeysFile, Url
from ._options import signing_keys as keys_of
from .strike_list import list_strikes

OPERATORS = [o.value for o in Operator]


def handle_strike_wildcard(value: str | None) -> str | None:
    """``*`` or an empty string mean "any": None."""
    if value is None or value in ("", "*"):
        return None
    return value


def _call_dotted_path(type_path: str, text: str) -> Any:
    """``--unsafe-resolve-values`` only: import ``type_path`` (a builtin name or
    ``module.attribute``) and call it with ``text``. This runs code."""
    if "." not in type_path:
        found = getattr(builtins, type_path, None)
    else:
        module_name, _, attribute = type_path.rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            raise ValueError(
                f"cannot import {module_name!r} for {type_path!r}"
            ) from None
        found = getattr(module, attribute, None)
    if found is None or not callable(found):
        raise ValueError(f"{type_path!r} is not a callable")
    return found(text)


def interpret_python_value(
    value: str | None, *, unsafe_resolve_values: bool = False
) -> Any:
    """``type:text`` becomes a value of that type; plain text stays a string.

    The types are literals only: ``str``, ``int``, ``float``, ``bool``, ``None``,
    ``decimal.Decimal``, ``uuid.UUID``, ``datetime.timedelta`` (N seconds),
    ``datetime.date`` and ``datetime.datetime`` (ISO). ``bool:x`` is true only for
    ``true`` (any case). The text after the *first* colon is the value, so
    ``str:a:b`` is the string ``a:b``. Any other prefix is a ValueError, unless
    ``unsafe_resolve_values`` lets it name a callable to call with the text.
    """
    fallback = _call_dotted_path if unsafe_resolve_values else None
    return parse_typed(value, fallback)


def _parse_value(operator: str, value: str | None, unsafe: bool) -> Any:
    if operator == Operator.BETWEEN.value and value is not None:
        low, high = split_between(value)
        return (
            interpret_python_value(low, unsafe_resolve_values=unsafe),
            interpret_python_value(high, unsafe_resolve_values=unsafe),
        )
    return interpret_python_value(value, unsafe_resolve_values=unsafe)


def _validate_operator(operator: str) -> str:
    if operator not in OPERATORS:
        raise typer.BadParameter(
            f"{operator!r} is not an operator; use one of {', '.join(OPERATORS)}"
        )
    return operator


Function = Annotated[str, typer.Argument(help="The task's name, or * for every task")]


class Unset(str):
    """An argument's default, not typed on the command line."""

    __slots__ = ()


def _note_default(ctx: typer.Context, param: typer.CallbackParam, value: str) -> str:
    source = ctx.get_parameter_source(param.name or "")
    return Unset(value) if source is not None and source.name == "DEFAULT" else value


Parameter = Annotated[
    str,
    typer.Argument(
        callback=_note_default,
        help="The parameter to compare, or * for the whole task",
    ),
]
OperatorArgument = Annotated[
    str,
    typer.Argument(callback=_validate_operator, help=f"One of {', '.join(OPERATORS)}"),
]
Value = Annotated[
    str | None,
    typer.Argument(
        help="The value, as text or type:text (int:42, float:2.5, bool:true, None:, "
        "decimal.Decimal:9.99, uuid.UUID:..., datetime.timedelta:SECONDS, "
        "datetime.date:ISO, datetime.datetime:ISO); for between, LOW,HIGH"
    ),
]
UnsafeResolveValues = Annotated[
    bool,
    typer.Option(
        "--unsafe-resolve-values",
        help="Let VALUE's prefix name any callable (module.callable:text), which "
        "is imported and called with the text: this runs code. Off by default, "
        "when only the literal types above are read.",
    ),
]


def _instruction(
    verb: str,
    function: str,
    parameter: str,
    operator: str,
    value: str | None,
    unsafe: bool = False,
) -> tuple[str | None, str | None, Any, str]:
    """Parse the arguments; the text printed before the instruction is sent."""
    task = handle_strike_wildcard(function)
    param = handle_strike_wildcard(parameter)
    if task is None and param is None:
        raise typer.BadParameter("Must provide either a function and/or a parameter")
    try:
        parsed = _parse_value(operator, value, unsafe)
        builder = Strike if verb == "Striking" else Restore
        builder.build(task, param, Operator(operator), parsed)  # validates, no I/O
    except (ValueError, TypeError, ArithmeticError) as error:
        raise typer.BadParameter(str(error), param_hint="'VALUE'") from None
    if param is None:
        return task, param, parsed, f"{verb} {for_terminal(task)}"
    shown = for_terminal(task) if task else "(all tasks)"
    return (
        task,
        param,
        parsed,
        f"{verb} {shown} {for_terminal(param)} {operator} {for_terminal(repr(parsed))}",
    )


async def _send(
    verb: str,
    docket_name: str,
    url: str,
    task: str | None,
    param: str | None,
    operator: str,
    value: Any,
    keys: list[str] | None,
) -> None:
    from ..docket import Docket

    async with Docket(name=docket_name, url=url, signing_keys=keys) as docket:
        if verb == "Striking":
            await docket.strike(task, param, Operator(operator), value)
        else:
            await docket.restore(task, param, Operator(operator), value)


def _command(
    verb: str,
    function: str,
    parameter: str,
    operator: str,
    value: str | None,
    docket_name: str,
    url: str,
    keys_file: str | None,
    unsafe: bool,
) -> None:
    task, param, parsed, text = _instruction(
        verb, function, parameter, operator, value, unsafe
    )
    keys = keys_of(keys_file)
    run(_send(verb, docket_name, url, task, param, operator, parsed, keys), url)
    say(text)  # only once it was sent: a failed connection prints just the error


def _listing_requested(function: str, parameter: str) -> bool:
    """``docket strike ls`` with nothing after it lists the strikes (a task really
    named ``ls`` is struck with ``docket strike ls '*'``; called as a function,
    ``strike("ls")`` strikes it, as pydocket's does)."""
    return function == "ls" and isinstance(parameter, Unset)


@app.command()
def strike(
    function: Function = "*",
    parameter: Parameter = "*",
    operator: OperatorArgument = "==",
    value: Value = None,
    docket_: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
    signing_keys: SigningKeysFile = None,
    unsafe_resolve_values: UnsafeResolveValues = False,
) -> None:
    """Stop a task (or tasks with matching arguments) from being scheduled or run.

    'docket strike ls' lists the strikes (as 'docket strikes' does); to strike a
    task named ls, give the parameter too: docket strike ls '*'."""
    if _listing_requested(function, parameter):
        list_strikes(docket_, url, signing_keys, as_json=False)
        return
    _command(
        "Striking",
        function,
        parameter,
        operator,
        value,
        docket_,
        url,
        signing_keys,
        unsafe_resolve_values,
    )


@app.command()
def restore(
    function: Function = "*",
    parameter: Parameter = "*",
    operator: OperatorArgument = "==",
    value: Value = None,
    docket_: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
    signing_keys: SigningKeysFile = None,
    unsafe_resolve_values: UnsafeResolveValues = False,
) -> None:
    """Lift a strike given earlier with the same arguments."""
    _command(
        "Restoring",
        function,
        parameter,
        operator,
        value,
        docket_,
        url,
        signing_keys,
        unsafe_resolve_values,
    )
