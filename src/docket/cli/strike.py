"""``docket strike`` and ``docket restore``: pause and resume tasks without a deploy."""

from __future__ import annotations

import builtins
import decimal
import importlib
import re
from datetime import timedelta
from typing import Annotated, Any

import typer

from .. import _defaults
from .._strikes import Operator, Restore, Strike
from ._app import app
from ._common import run, say
from ._options import DocketName, SigningKeysFile, Url
from ._options import signing_keys as keys_of

_TYPE_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
OPERATORS = [o.value for o in Operator]


def handle_strike_wildcard(value: str | None) -> str | None:
    """``*`` or an empty string mean "any": None."""
    if value is None or value in ("", "*"):
        return None
    return value


def _resolve_type(path: str) -> Any:
    if "." not in path:
        found = getattr(builtins, path, None)
        if found is None:
            raise ValueError(f"unknown type {path!r}")
        return found
    module_name, _, attribute = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise ValueError(f"cannot import {module_name!r} for type {path!r}") from None
    found = getattr(module, attribute, None)
    if found is None or not callable(found):
        raise ValueError(f"{path!r} is not a callable type")
    return found


def interpret_python_value(value: str | None) -> Any:
    """``type:text`` becomes ``type(text)``; plain text stays a string.

    The type is a builtin (``int``, ``float``, ``bool``, ``str``) or a dotted path
    to a callable (``decimal.Decimal``, ``uuid.UUID``). ``datetime.timedelta:N``
    is N seconds; ``bool:x`` is true only for ``true`` (any case). The text after
    the *first* colon is the value, so ``str:a:b`` is the string ``a:b``.
    """
    if value is None:
        return None
    type_path, colon, text = value.partition(":")
    if not colon or not _TYPE_PATH.match(type_path):
        return value
    if type_path == "datetime.timedelta":
        return timedelta(seconds=float(text))
    if type_path == "bool":
        return text.strip().lower() == "true"
    if type_path == "decimal.Decimal":
        try:
            return decimal.Decimal(text)
        except decimal.InvalidOperation:
            raise ValueError(f"{text!r} is not a decimal number") from None
    try:
        converter = _resolve_type(type_path)
    except ValueError as error:
        raise ValueError(
            f"{error} in {value!r} (write str:{value} for a string with a colon)"
        ) from None
    return converter(text)


def _parse_value(operator: str, value: str | None) -> Any:
    if operator == Operator.BETWEEN.value and value is not None:
        low, comma, high = value.partition(",")
        if not comma:
            raise ValueError("'between' takes LOW,HIGH, for example int:10,int:100")
        return (interpret_python_value(low), interpret_python_value(high))
    return interpret_python_value(value)


def _validate_operator(operator: str) -> str:
    if operator not in OPERATORS:
        raise typer.BadParameter(
            f"{operator!r} is not an operator; use one of {', '.join(OPERATORS)}"
        )
    return operator


Function = Annotated[str, typer.Argument(help="The task's name, or * for every task")]
Parameter = Annotated[
    str, typer.Argument(help="The parameter to compare, or * for the whole task")
]
OperatorArgument = Annotated[
    str,
    typer.Argument(callback=_validate_operator, help=f"One of {', '.join(OPERATORS)}"),
]
Value = Annotated[
    str | None,
    typer.Argument(
        help="The value, as text or type:text (int:42, decimal.Decimal:9.99, "
        "bool:true); for between, LOW,HIGH"
    ),
]


def _instruction(
    verb: str,
    function: str,
    parameter: str,
    operator: str,
    value: str | None,
) -> tuple[str | None, str | None, Any, str]:
    """Parse the arguments; the text printed before the instruction is sent."""
    task = handle_strike_wildcard(function)
    param = handle_strike_wildcard(parameter)
    if task is None and param is None:
        raise typer.BadParameter("Must provide either a function and/or a parameter")
    try:
        parsed = _parse_value(operator, value)
        builder = Strike if verb == "Striking" else Restore
        builder.build(task, param, Operator(operator), parsed)  # validates, no I/O
    except (ValueError, TypeError, ArithmeticError) as error:
        raise typer.BadParameter(str(error), param_hint="'VALUE'") from None
    if param is None:
        return task, param, parsed, f"{verb} {task}"
    return (
        task,
        param,
        parsed,
        f"{verb} {task or '(all tasks)'} {param} {operator} {parsed!r}",
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
) -> None:
    task, param, parsed, text = _instruction(verb, function, parameter, operator, value)
    keys = keys_of(keys_file)
    say(text)
    run(_send(verb, docket_name, url, task, param, operator, parsed, keys), url)


@app.command()
def strike(
    function: Function = "*",
    parameter: Parameter = "*",
    operator: OperatorArgument = "==",
    value: Value = None,
    docket_name: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
    signing_keys: SigningKeysFile = None,
) -> None:
    """Stop a task (or tasks with matching arguments) from being scheduled or run."""
    _command(
        "Striking", function, parameter, operator, value, docket_name, url, signing_keys
    )


@app.command()
def restore(
    function: Function = "*",
    parameter: Parameter = "*",
    operator: OperatorArgument = "==",
    value: Value = None,
    docket_name: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
    signing_keys: SigningKeysFile = None,
) -> None:
    """Lift a strike given earlier with the same arguments."""
    _command(
        "Restoring",
        function,
        parameter,
        operator,
        value,
        docket_name,
        url,
        signing_keys,
    )
