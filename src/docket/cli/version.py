"""``docket version``: print the pydocket API level, as pydocket prints its own."""

from __future__ import annotations

import typer

from .. import __version__
from ._app import app


@app.command()
def version() -> None:
    """Print the pydocket version whose API this docket implements."""
    typer.echo(__version__)
