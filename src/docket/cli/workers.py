"""``docket workers ls`` and ``docket workers for-task TASK``."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timezone
from typing import Annotated

import typer

from .. import _defaults
from .._console.snapshot import WorkerInfo
from .._text import for_terminal
from ._app import workers_app
from ._common import console, run, say
from ._human import count, relative
from ._json import workers_json
from ._options import DocketName, Json, Url
from ._table import TIME_WIDTH, Column, Grid, join, print_grid


async def _workers(
    docket_name: str, url: str, task: str | None
) -> Collection[WorkerInfo]:
    from ..docket import Docket

    async with Docket(name=docket_name, url=url) as docket:
        if task is None:
            return await docket.workers()
        return await docket.task_workers(task)


def workers_table(
    docket_name: str, workers: Collection[WorkerInfo], highlight: str | None = None
) -> Grid:
    """Workers, most recently seen first, with the tasks each serves (``highlight``
    first among them)."""
    now = datetime.now(timezone.utc)
    table = Grid(
        [
            Column("Name", whole=True, style="cyan"),
            Column("Last Seen", least=TIME_WIDTH, style="green"),
            Column("Tasks", wrap=True),
        ],
        title=[
            f"Workers in Docket: {docket_name}",
            count(len(workers), "worker"),
        ],
    )
    for info in sorted(workers, key=lambda w: w.last_seen, reverse=True):
        tasks = sorted(info.tasks, key=lambda task: (task != highlight, task))
        table.add_row(
            info.name,
            relative(now, info.last_seen),
            join(for_terminal(task) for task in tasks) if tasks else "(none)",
        )
    return table


@workers_app.command("ls")
def list_workers(
    docket_: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
    as_json: Json = False,
) -> None:
    """List the workers alive in the docket."""
    workers = run(_workers(docket_, url, None), url)
    if as_json:
        say(workers_json(workers))
        return
    print_grid(console, workers_table(docket_, workers))


@workers_app.command("for-task")
def workers_for_task(
    task: Annotated[str, typer.Argument(help="The task's registered name")],
    docket_: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
) -> None:
    """List the workers alive in the docket that can run TASK."""
    workers = run(_workers(docket_, url, task), url)
    print_grid(console, workers_table(docket_, workers, highlight=task))
