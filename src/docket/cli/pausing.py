"""``docket pause TASK`` and ``docket resume TASK``: hold a task type's work, then
let it run, without discarding anything (``docket strikes`` lists what is paused)."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import _defaults
from .._keys import check_task_name
from .._text import for_terminal
from ._app import app
from ._common import run, say
from ._options import DocketName, Url

TaskName = Annotated[str, typer.Argument(help="The task's name")]


def _checked(task: str) -> str:
    try:
        check_task_name(task)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="'TASK'") from None
    return task


async def _pause(docket_name: str, url: str, task: str) -> None:
    from ..docket import Docket

    async with Docket(name=docket_name, url=url) as docket:
        await docket.pause(task)


async def _resume(docket_name: str, url: str, task: str) -> int:
    from ..docket import Docket

    async with Docket(name=docket_name, url=url) as docket:
        return await docket.resume(task)


@app.command()
def pause(
    task: TaskName,
    docket_: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
) -> None:
    """Stop running TASK without discarding its work: its tasks wait, queued or
    scheduled, until 'docket resume TASK'. Running ones finish."""
    run(_pause(docket_, url, _checked(task)), url)
    name = for_terminal(task)
    say(f"Paused {name}: its tasks wait until 'docket resume {name}'.")


@app.command()
def resume(
    task: TaskName,
    docket_: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
) -> None:
    """Run TASK again: the work that waited while it was paused runs, oldest first."""
    released = run(_resume(docket_, url, _checked(task)), url)
    plural = "" if released == 1 else "s"
    say(f"Resumed {for_terminal(task)}: {released:,} waiting task{plural} released.")
