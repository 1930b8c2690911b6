"""``docket worker``: run a worker as a service."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import typer

from .. import _defaults
from . import app


@app.command()
def worker(
    tasks: Annotated[list[str], typer.Option("--tasks", envvar=_defaults.ENV_TASKS)] = [
        _defaults.STANDARD_TASKS
    ],
    docket_name: Annotated[
        str, typer.Option("--docket", envvar=_defaults.ENV_NAME)
    ] = _defaults.DOCKET_NAME,
    url: Annotated[
        str, typer.Option("--url", envvar=_defaults.ENV_URL)
    ] = _defaults.DOCKET_URL,
    name: Annotated[
        str | None, typer.Option("--name", envvar=_defaults.ENV_WORKER_NAME)
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", envvar=_defaults.ENV_CONCURRENCY)
    ] = _defaults.CONCURRENCY,
    until_finished: Annotated[bool, typer.Option("--until-finished")] = False,
    logging_level: Annotated[
        str, typer.Option("--logging-level", envvar=_defaults.ENV_LOGGING_LEVEL)
    ] = "INFO",
) -> None:
    """Start a worker that runs the docket's tasks."""
    from ..worker import Worker

    logging.basicConfig(
        level=logging_level.upper(),
        format="[%(asctime)s] %(levelname)s - %(name)s - %(message)s",
    )
    asyncio.run(
        Worker.run(
            docket_name=docket_name,
            url=url,
            name=name,
            concurrency=concurrency,
            until_finished=until_finished,
            tasks=tasks,
        )
    )
