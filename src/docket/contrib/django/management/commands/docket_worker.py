"""``python manage.py docket_worker``: run this project's Django tasks.

It runs every queue of the ``default`` task backend (``--backend`` another
one, ``--queue`` some of its queues) until SIGTERM or Ctrl-C: the first stops
taking work and lets running tasks finish, a second cancels them.
``--until-finished`` (or ``--batch``) returns once the queues are empty."""

from __future__ import annotations

import asyncio
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from ..._compat import InvalidTaskBackend, task_backends
from ...backend import DocketBackend
from ...worker import DEFAULT_CONCURRENCY, run_workers


class Command(BaseCommand):
    help = (
        "Run Docket workers for this project's Django tasks: every queue of the "
        "task backend (or those given with --queue), until SIGTERM or Ctrl-C."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--backend",
            default="default",
            help="The TASKS alias of a DocketBackend (default: 'default').",
        )
        parser.add_argument(
            "--queue",
            "--queue-name",
            action="append",
            dest="queues",
            metavar="QUEUE",
            help="A queue to run (repeat for more; default: all of the backend's).",
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=DEFAULT_CONCURRENCY,
            help=f"Tasks run at once per queue (default: {DEFAULT_CONCURRENCY}).",
        )
        parser.add_argument(
            "--name",
            dest="worker_name",
            help="This worker's name (default: host#pid), as results report it.",
        )
        parser.add_argument(
            "--until-finished",
            "--batch",
            action="store_true",
            dest="until_finished",
            help="Return once the queues are empty (due and deferred tasks).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        alias = options["backend"]
        try:
            backend = task_backends[alias]
        except InvalidTaskBackend as problem:
            raise CommandError(f"No task backend {alias!r}: {problem}") from None
        if not isinstance(backend, DocketBackend):
            raise CommandError(
                f"Task backend {alias!r} is a {type(backend).__name__}, not "
                "docket.contrib.django.DocketBackend"
            )
        queues: list[str] = options["queues"] or list(backend.settings.queues)
        unknown = [queue for queue in queues if queue not in backend.settings.queues]
        if unknown:
            raise CommandError(
                f"Task backend {alias!r} has no queue {unknown[0]!r}; its queues: "
                f"{', '.join(backend.settings.queues)}"
            )
        if options["concurrency"] < 1:
            raise CommandError("--concurrency must be at least 1")
        dockets = ", ".join(
            f"{queue} (docket {backend.docket_name(queue)!r})" for queue in queues
        )

        def started() -> None:
            self.stdout.write(f"Docket worker running queues: {dockets}")
            self.stdout.flush()

        try:
            completed = asyncio.run(
                run_workers(
                    backend,
                    queues,
                    concurrency=options["concurrency"],
                    name=options["worker_name"],
                    until_finished=options["until_finished"],
                    started=started,
                )
            )
        finally:
            connections.close_all()
        if not completed:
            raise CommandError(
                "Stopped at once: running tasks were cancelled and will be redelivered"
            )
