"""``/strikes``: the current strikes; strike a task (or a parameter value) and
restore it."""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..._strikes import LITERAL_TYPES, Operator, parse_literal, split_between
from .. import views
from ..pages import console_of, data, page
from ._actions import Malformed, act

OPERATORS = [operator.value for operator in Operator]
VALUE_TYPES = list(LITERAL_TYPES)


def strike_id(
    function: str | None, parameter: str | None, operator: Any, value: Any
) -> str:
    """A stable handle for one current strike, for the restore buttons."""
    text = repr((function, parameter, str(operator) if operator else None, value))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _current(request: Request) -> dict[str, tuple[Any, ...]]:
    """strike id -> (function, parameter, operator, value) of every strike now."""
    strike_list = console_of(request).docket.strike_list
    found: dict[str, tuple[Any, ...]] = {}
    for function in strike_list.struck_functions:
        found[strike_id(function, None, None, None)] = (function, None, None, None)
    for function, parameters in strike_list.task_strikes.items():
        for parameter, pairs in parameters.items():
            for operator, value in pairs:
                handle = strike_id(function, parameter, operator, value)
                found[handle] = (function, parameter, operator, value)
    for parameter, pairs in strike_list.parameter_strikes.items():
        for operator, value in pairs:
            found[strike_id(None, parameter, operator, value)] = (
                None,
                parameter,
                operator,
                value,
            )
    return found


async def _rows(request: Request) -> dict[str, Any]:
    found = await views.strikes(console_of(request))
    handles = {
        (f, p, str(o) if o else None, repr(v)): h
        for h, (f, p, o, v) in _current(request).items()
    }
    for row in found["strikes"]:
        value = row.get("value", repr(None))
        key = (row["function"], row["parameter"], row["operator"], value)
        row["id"] = handles.get(key)
    return found


async def strikes_page(request: Request) -> Response:
    found = await _rows(request)
    return page(
        request,
        "strikes.html",
        "strikes",
        operators=OPERATORS,
        value_types=VALUE_TYPES,
        **found,
    )


async def strikes_api(request: Request) -> Response:
    return data(await _rows(request))


def typed_value(fields: dict[str, str], operator: str) -> Any:
    """The form's ``value`` read as a literal of the type its ``type`` field
    names (``str``, ``int``, ... never code); ``LOW,HIGH`` for ``between``."""
    kind = fields.get("type", "")
    if kind not in LITERAL_TYPES:
        raise Malformed(
            f"type must be one of {', '.join(VALUE_TYPES)} (got {kind!r}); "
            "values are never evaluated"
        )
    text = fields.get("value", "")
    if operator == Operator.BETWEEN.value:
        low, high = split_between(text)
        return (parse_literal(kind, low), parse_literal(kind, high))
    return parse_literal(kind, text)


async def add(request: Request) -> Response:
    async def body(fields: dict[str, str]) -> str:
        function = fields.get("function") or None
        parameter = fields.get("parameter") or None
        operator = fields.get("operator") or "=="
        if operator not in OPERATORS:
            raise Malformed(f"unknown operator {operator!r}")
        if function is None and parameter is None:
            raise ValueError("give a task name, a parameter, or both")
        value = typed_value(fields, operator) if parameter else None
        docket = console_of(request).docket
        await docket.strike(function, parameter, Operator(operator), value)
        target = function or "every task"
        return f"Struck {target}" + (
            f" where {parameter} {operator} {value!r}" if parameter else ""
        )

    return await act(request, "/strikes", body)


async def restore(request: Request) -> Response:
    async def body(fields: dict[str, str]) -> str:
        handle = fields.get("id", "")
        current = _current(request)
        if handle not in current:
            raise ValueError("that strike is not in place any more")
        function, parameter, operator, value = current[handle]
        docket = console_of(request).docket
        await docket.restore(function, parameter, operator or "==", value)
        return f"Restored {function or 'every task'}" + (
            f" where {parameter} {operator} {value!r}" if parameter else ""
        )

    return await act(request, "/strikes", body)


def routes() -> list[Route]:
    return [
        Route("/strikes", strikes_page),
        Route("/api/strikes", strikes_api),
        Route("/strikes/add", add, methods=["POST"]),
        Route("/strikes/restore", restore, methods=["POST"]),
    ]
