"""``docket version``: print the installed version."""

from __future__ import annotations

import typer

from .. import __version__
from ._app import app


@app.command()
def version() -> None:
    """Print the installed version of docket."""
    typer.echo(__version__)
