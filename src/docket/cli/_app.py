"""The Typer application and its command groups (commands attach themselves)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Docket: a distributed background task system for Python functions.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold Redis passwords
)

workers_app = typer.Typer(
    help="Look at the workers serving a docket.", no_args_is_help=True
)
app.add_typer(workers_app, name="workers")

tasks_app = typer.Typer(
    help="Add the built-in smoke-test tasks to a docket.", no_args_is_help=True
)
app.add_typer(tasks_app, name="tasks")

failed_app = typer.Typer(
    help="The failed-task archive: list, show, replay and purge failures.",
    no_args_is_help=True,
)
app.add_typer(failed_app, name="failed")

dead_app = typer.Typer(
    help="Look at, replay and purge the messages workers refused to run.",
    no_args_is_help=True,
)
app.add_typer(dead_app, name="dead")
