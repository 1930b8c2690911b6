"""``docket tasks trace|fail|sleep``: add the built-in smoke-test tasks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

import typer

from .. import _defaults
from .. import tasks as builtin
from ._app import tasks_app
from ._common import run, say
from ._options import Delay, DocketName, SigningKeysFile, Url
from ._options import signing_keys as keys_of

Message = Annotated[str, typer.Argument(help="The message the task logs or raises")]


async def _add(
    docket_name: str,
    url: str,
    delay: timedelta,
    function: Any,
    argument: Any,
    keys: list[str] | None,
) -> str:
    from ..docket import Docket

    when = datetime.now(timezone.utc) + delay
    async with Docket(name=docket_name, url=url, signing_keys=keys) as docket:
        execution = await docket.add(function, when)(argument)
    return execution.key


def _command(
    docket_name: str,
    url: str,
    delay: timedelta,
    function: Any,
    argument: Any,
    keys_file: str | None,
) -> None:
    keys = keys_of(keys_file)
    key = run(_add(docket_name, url, delay, function, argument, keys), url)
    say(f"Added {function.__name__} task {key!r} to the docket {docket_name!r}")


@tasks_app.command()
def trace(
    docket_: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
    message: Message = "Howdy!",
    delay: Delay = timedelta(0),
    signing_keys: SigningKeysFile = None,
) -> None:
    """Add a task that logs MESSAGE on the worker that runs it."""
    _command(docket_, url, delay, builtin.trace, message, signing_keys)


@tasks_app.command()
def fail(
    docket_: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
    message: Message = "Howdy!",
    delay: Delay = timedelta(0),
    signing_keys: SigningKeysFile = None,
) -> None:
    """Add a task that fails with MESSAGE (and is retried once)."""
    _command(docket_, url, delay, builtin.fail, message, signing_keys)


@tasks_app.command()
def sleep(
    docket_: DocketName = _defaults.DOCKET_NAME,
    url: Url = _defaults.DOCKET_URL,
    seconds: Annotated[float, typer.Argument(help="How long the task sleeps")] = 1.0,
    delay: Delay = timedelta(0),
    signing_keys: SigningKeysFile = None,
) -> None:
    """Add a task that sleeps SECONDS on a worker."""
    _command(docket_, url, delay, builtin.sleep, seconds, signing_keys)
