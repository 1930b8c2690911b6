"""The Typer application and its command groups (commands attach themselves)."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup


def _name_values(params: list[Any]) -> list[Any]:
    """Help that names what each option takes (``--url URL``, ``--limit LIMIT``)
    where Typer would print a Python type (``<str>``), and shows flags
    (``--json``, ``--help``) with nothing after them."""
    for param in params:
        if getattr(param, "param_type_name", "") != "option":
            continue
        if param.metavar is not None:
            continue
        if param.is_flag or param.count:
            param.metavar = ""
            continue
        longest = max(param.opts, key=len)
        param.metavar = longest.lstrip("-").upper().replace("-", "_")
    return params


class Command(TyperCommand):
    """A docket command (see ``_name_values`` for its help)."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _name_values(super().get_params(ctx))


class Group(TyperGroup):
    """A docket command group (see ``_name_values`` for its help)."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _name_values(super().get_params(ctx))


class App(typer.Typer):
    """A Typer whose commands are ``Command`` unless they say otherwise."""

    def __init__(self, **options: Any) -> None:
        super().__init__(cls=Group, **options)

    def command(  # type: ignore[override]
        self,
        name: str | None = None,
        *,
        cls: type[TyperCommand] | None = None,
        **kw: Any,
    ) -> Any:
        return super().command(name, cls=cls or Command, **kw)


app = App(
    help="Docket: a distributed background task system for Python functions.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold Redis passwords
)

workers_app = App(help="Look at the workers serving a docket.", no_args_is_help=True)
app.add_typer(workers_app, name="workers")

tasks_app = App(
    help="Add the built-in smoke-test tasks to a docket.", no_args_is_help=True
)
app.add_typer(tasks_app, name="tasks")

failed_app = App(
    help="The failed tasks: list, show, replay and purge them.",
    no_args_is_help=True,
)
app.add_typer(failed_app, name="failed")

dead_app = App(
    help="Look at, replay and purge the messages workers refused to run.",
    no_args_is_help=True,
)
app.add_typer(dead_app, name="dead")
