"""``docket worker``: run a worker as a service (through ``Worker.run``)."""

from __future__ import annotations

import asyncio
import logging
import shutil
from datetime import timedelta
from typing import Annotated, Any

import typer

from .. import _defaults as d
from .._redis import redact_url
from ._app import Command, app
from ._common import fail
from ._logging import configure_logging
from ._options import (
    DocketName,
    SigningKeysFile,
    Tasks,
    WorkerUrl,
    duration_option,
    duration_text,
    positive_duration_option,
    redelivery_timeout_option,
    set_logging_format,
    set_logging_level,
    validate_dependencies,
    validate_fallback_task,
    validate_pools,
    validate_serializer,
)
from ._options import pools as pools_of
from ._options import signing_keys as keys_of

logger = logging.getLogger("docket.worker")

TUNING = "Tuning"
ISOLATION = "Isolated tasks"
SERVICE = "Service"


def _option(
    *names: str, env: str | None = None, panel: str | None = None, **options: Any
) -> Any:
    return typer.Option(*names, envvar=env, rich_help_panel=panel, **options)


def _duration(
    *names: str, default: str | timedelta, positive: bool = True, **options: Any
) -> Any:
    """A duration option (10m, 5s, 250ms, 1.5, hh:mm:ss) shown with ``default``
    (a timedelta: the parameter's own default, written as the option reads it)."""
    parser = positive_duration_option if positive else duration_option
    if isinstance(default, timedelta):
        default = duration_text(default)
    return _option(
        *names, parser=parser, metavar="DURATION", show_default=default, **options
    )


# Below this many columns the rich help table would cut long flag names short
# (--enable-internal-instrumentation/--no-...), so help uses the plain layout.
WIDE_HELP = 160


class WorkerCommand(Command):
    """The worker command: rich help on wide terminals, plain help on narrow ones."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        if shutil.get_terminal_size().columns >= WIDE_HELP:
            return super().format_help(ctx, formatter)
        saved, self.rich_markup_mode = self.rich_markup_mode, None
        try:
            return super().format_help(ctx, formatter)
        finally:
            self.rich_markup_mode = saved


@app.command(cls=WorkerCommand)
def worker(
    tasks: Tasks = [d.STANDARD_TASKS],
    docket_: DocketName = d.DOCKET_NAME,
    url: WorkerUrl = d.DOCKET_URL,
    name: Annotated[
        str | None,
        _option(
            "--name",
            env=d.ENV_WORKER_NAME,
            show_default="<hostname>#<pid>",
            help="The worker's unique name",
        ),
    ] = None,
    logging_level: Annotated[
        str,
        _option(
            "--logging-level",
            env=d.ENV_LOGGING_LEVEL,
            callback=set_logging_level,
            help="DEBUG, INFO, WARNING, ERROR or CRITICAL (any case)",
        ),
    ] = "INFO",
    logging_format: Annotated[
        str | None,
        _option(
            "--logging-format",
            env=d.ENV_LOGGING_FORMAT,
            callback=set_logging_format,
            show_default="rich on a terminal, else plain",
            help="rich, plain or json",
        ),
    ] = None,
    concurrency: Annotated[
        int,
        _option(
            "--concurrency",
            env=d.ENV_CONCURRENCY,
            panel=TUNING,
            min=1,
            help="Most tasks run at once",
        ),
    ] = d.CONCURRENCY,
    message_batch: Annotated[
        int,
        _option(
            "--message-batch",
            env=d.ENV_MESSAGE_BATCH,
            panel=TUNING,
            min=1,
            help="Most messages taken by one read or redelivery sweep",
        ),
    ] = d.MESSAGE_BATCH,
    redelivery_timeout: Annotated[
        timedelta,
        _option(
            "--redelivery-timeout",
            env=d.ENV_REDELIVERY_TIMEOUT,
            panel=TUNING,
            parser=redelivery_timeout_option,
            metavar="DURATION",
            show_default=duration_text(d.REDELIVERY_TIMEOUT),
            help="Idle time after which another worker may take over a task "
            "(at least 100ms)",
        ),
    ] = d.REDELIVERY_TIMEOUT,
    reconnection_delay: Annotated[
        timedelta,
        _duration(
            "--reconnection-delay",
            default=d.RECONNECTION_DELAY,
            positive=False,
            env=d.ENV_RECONNECTION_DELAY,
            panel=TUNING,
            help="Wait after losing Redis before reconnecting",
        ),
    ] = d.RECONNECTION_DELAY,
    minimum_check_interval: Annotated[
        timedelta,
        _duration(
            "--minimum-check-interval",
            default=d.CLI_MINIMUM_CHECK_INTERVAL,
            env=d.ENV_MINIMUM_CHECK_INTERVAL,
            panel=TUNING,
            help="Longest wait for new work on each read",
        ),
    ] = d.CLI_MINIMUM_CHECK_INTERVAL,
    scheduling_resolution: Annotated[
        timedelta,
        _duration(
            "--scheduling-resolution",
            default=d.SCHEDULING_RESOLUTION,
            env=d.ENV_SCHEDULING_RESOLUTION,
            panel=TUNING,
            help="How often future tasks are checked for being due",
        ),
    ] = d.SCHEDULING_RESOLUTION,
    schedule_automatic_tasks: Annotated[
        bool,
        _option(
            "--schedule-automatic-tasks/--no-schedule-automatic-tasks",
            env=d.ENV_SCHEDULE_AUTOMATIC_TASKS,
            panel=TUNING,
            help="Start automatic perpetual and cron tasks",
        ),
    ] = True,
    enable_internal_instrumentation: Annotated[
        bool,
        _option(
            "--enable-internal-instrumentation/--no-enable-internal-instrumentation",
            env=d.ENV_INTERNAL_INSTRUMENTATION,
            panel=TUNING,
            help="Trace docket's own Redis polling too",
        ),
    ] = False,
    until_finished: Annotated[
        bool,
        _option("--until-finished", help="Exit once the docket has no work left"),
    ] = False,
    healthcheck_port: Annotated[
        int | None,
        _option(
            "--healthcheck-port",
            env=d.ENV_HEALTHCHECK_PORT,
            panel=SERVICE,
            min=1,
            max=65535,
            help="Serve a health check (200 while able to process) on this port",
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        _option(
            "--metrics-port",
            env=d.ENV_METRICS_PORT,
            panel=SERVICE,
            min=1,
            max=65535,
            help="Serve Prometheus metrics on this port",
        ),
    ] = None,
    fallback_task: Annotated[
        str | None,
        _option(
            "--fallback-task",
            env=d.ENV_FALLBACK_TASK,
            callback=validate_fallback_task,
            help="module:function to run for unknown task names",
        ),
    ] = None,
    dependencies: Annotated[
        str | None,
        _option(
            "--dependencies",
            env=d.ENV_DEPENDENCIES,
            callback=validate_dependencies,
            help="module:member, a list or mapping of dependencies for every task",
        ),
    ] = None,
    max_deliveries: Annotated[
        int,
        _option(
            "--max-deliveries",
            env=d.ENV_MAX_DELIVERIES,
            panel=TUNING,
            min=1,
            help="Deliveries of one message (its workers kept dying) before it is "
            "dead-lettered instead of run",
        ),
    ] = d.MAX_DELIVERIES,
    dead_letter_limit: Annotated[
        int,
        _option(
            "--dead-letter-limit",
            env=d.ENV_DEAD_LETTER_LIMIT,
            panel=TUNING,
            min=1,
            help="Most entries the dead-letter stream keeps (the oldest go first)",
        ),
    ] = d.DEAD_LETTER_LIMIT,
    http_host: Annotated[
        str,
        _option(
            "--http-host",
            env=d.ENV_HTTP_HOST,
            panel=SERVICE,
            help="Address the health and metrics servers listen on",
        ),
    ] = d.HTTP_HOST,
    shutdown_timeout: Annotated[
        timedelta | None,
        _duration(
            "--shutdown-timeout",
            default="none: wait for every task",
            env=d.ENV_SHUTDOWN_TIMEOUT,
            panel=SERVICE,
            help="After SIGTERM/SIGINT, how long to wait for running tasks before "
            "stopping anyway",
        ),
    ] = None,
    signing_keys: SigningKeysFile = None,
    serializer: Annotated[
        str | None,
        _option(
            "--serializer",
            env=d.ENV_SERIALIZER,
            callback=validate_serializer,
            show_default="pickle",
            help="pickle or json: how this worker writes payloads (a json worker "
            "never loads pickles)",
        ),
    ] = None,
    isolated_processes: Annotated[
        int | None,
        _option(
            "--isolated-processes",
            env=d.ENV_ISOLATED_PROCESSES,
            panel=ISOLATION,
            min=1,
            show_default="one per CPU, at most --concurrency",
            help="Child processes in the default pool that runs Isolated() tasks",
        ),
    ] = None,
    max_tasks_per_child: Annotated[
        int,
        _option(
            "--max-tasks-per-child",
            env=d.ENV_MAX_TASKS_PER_CHILD,
            panel=ISOLATION,
            min=0,
            help="Isolated tasks a child runs before it is replaced (0: no limit)",
        ),
    ] = 0,
    pools: Annotated[
        list[str] | None,
        _option(
            "--pool",
            env=d.ENV_POOLS,
            panel=ISOLATION,
            metavar="NAME=SIZE",
            callback=validate_pools,
            help="A named pool of child processes for Isolated(pool=NAME) tasks "
            "(repeatable)",
        ),
    ] = None,
    priority_aging: Annotated[
        timedelta,
        _duration(
            "--priority-aging",
            default=d.PRIORITY_AGING,
            env=d.ENV_PRIORITY_AGING,
            panel=TUNING,
            help="A waiting task rises one priority level per this long",
        ),
    ] = d.PRIORITY_AGING,
) -> None:
    """Start a worker that runs the docket's tasks."""
    from .. import cli  # Worker as docket.cli names it (tests may replace it there)
    from .._redis.faults import AccessDenied
    from .._worker.entrypoint import ShutdownForced

    configure_logging(logging_level, logging_format)
    logger.debug("Connecting to %s", redact_url(url))
    try:
        asyncio.run(
            cli.Worker.run(
                docket_name=docket_,
                url=url,
                name=name,
                concurrency=concurrency,
                redelivery_timeout=redelivery_timeout,
                reconnection_delay=reconnection_delay,
                minimum_check_interval=minimum_check_interval,
                scheduling_resolution=scheduling_resolution,
                schedule_automatic_tasks=schedule_automatic_tasks,
                enable_internal_instrumentation=enable_internal_instrumentation,
                until_finished=until_finished,
                healthcheck_port=healthcheck_port,
                metrics_port=metrics_port,
                tasks=tasks,
                fallback_task=fallback_task,
                message_batch=message_batch,
                dependencies=dependencies or None,
                shutdown_timeout=shutdown_timeout,
                http_host=http_host,
                max_deliveries=max_deliveries,
                dead_letter_limit=dead_letter_limit,
                signing_keys=keys_of(signing_keys),
                serializer=serializer,
                isolated_processes=isolated_processes,
                max_tasks_per_child=max_tasks_per_child,
                pools=pools_of(pools),
                priority_aging=priority_aging,
            )
        )
    except ShutdownForced as stopped:
        raise fail(str(stopped)) from None
    except AccessDenied as refused:
        raise fail(f"Error: {refused}") from None
    except (OSError, ImportError) as error:  # a port in use, no metrics SDK...
        raise fail(f"Error: {error}") from None
