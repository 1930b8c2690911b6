"""The ``docket`` command line (Typer)."""

from __future__ import annotations

import typer

from .. import __version__

app = typer.Typer(
    help="Docket: a distributed background task system for Python functions.",
    no_args_is_help=True,
)


@app.command()
def version() -> None:
    """Print the installed version of docket."""
    typer.echo(__version__)


def main() -> None:
    app()


from . import worker  # noqa: E402  (registers the command)

__all__ = ["app", "main", "version", "worker"]
