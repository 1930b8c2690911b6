"""The Django project as a user runs it: ``manage.py migrate``, tasks enqueued
from one process, ``manage.py docket_worker`` running them in another, results
read from a third (this one)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from docket.contrib.django import DocketBackend
from docket.contrib.django._compat import TaskResultStatus
from tests._support.cli import wait_until
from tests._support.servers import RedisServer
from tests.contrib.django.conftest import SITE, site_environment

pytestmark = pytest.mark.slow

ENQUEUE = """
import json
from datetime import timedelta
from django.utils import timezone
from shop.tasks import add, fail, greet, nap, send_email
later = timezone.now() + timedelta(seconds=1)
ids = {
    "sync": add.enqueue(2, 3).id,
    "async": greet.enqueue("Ann").id,
    "deferred": add.using(run_after=later).enqueue(20, 22).id,
    "failing": fail.enqueue("apples").id,
    "email": send_email.enqueue("a@example.com").id,
}
print("IDS " + json.dumps(ids))
"""


def manage(environment: dict[str, str], *args: str, timeout: float = 60) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=SITE,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def environment(
    redis_server: RedisServer, docket_prefix: str, tmp_path: Path
) -> dict[str, str]:
    """The environment of the project's processes: the test's dockets, and a
    database of its own (not migrated yet)."""
    return site_environment(redis_server.url, docket_prefix, tmp_path / "db.sqlite3")


@contextmanager
def worker_process(
    environment: dict[str, str], log: Path, *args: str
) -> Iterator[subprocess.Popen[bytes]]:
    """``manage.py docket_worker *args`` until the block ends; it has said which
    queues it runs before the block starts."""
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "docket_worker", *args],
            cwd=SITE,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(
                lambda: (
                    process.poll() is not None or b"running queues" in log.read_bytes()
                ),
                timeout=30,
            )
            assert process.poll() is None, log.read_text()
            yield process
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def stop(process: subprocess.Popen[bytes], log: Path) -> int:
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=20)
    assert time.monotonic() - started < 10, log.read_text()
    return code


def finished(backend: DocketBackend, ids: dict[str, str]) -> dict[str, Any] | None:
    results = {name: backend.get_result(id_) for name, id_ in ids.items()}
    if all(result.is_finished for result in results.values()):
        return results
    return None


def test_manage_py_docket_worker_runs_the_projects_tasks(
    backend: DocketBackend, environment: dict[str, str], tmp_path: Path
) -> None:
    """Sync, async, deferred and failing tasks and one on another queue,
    enqueued by one process, run by `manage.py docket_worker`: SUCCESSFUL with
    the return values, FAILED with the exception's class path; SIGTERM then
    stops the worker cleanly (exit 0)."""
    manage(environment, "migrate", "-v", "0")
    output = manage(environment, "shell", "-v", "0", "-c", ENQUEUE)
    ids = json.loads(output.split("IDS ", 1)[1])
    log = tmp_path / "worker.log"
    with worker_process(environment, log) as process:
        results = wait_until(lambda: finished(backend, ids), timeout=30)
        assert stop(process, log) == 0, log.read_text()
    assert results["sync"].status == TaskResultStatus.SUCCESSFUL
    assert results["sync"].return_value == 5
    assert results["async"].return_value == "Hello, Ann!"
    assert results["deferred"].return_value == 42
    assert results["deferred"].started_at >= results["deferred"].task.run_after
    assert results["email"].return_value == "sent to a@example.com"
    assert results["email"].task.queue_name == "emails"
    failing = results["failing"]
    assert failing.status == TaskResultStatus.FAILED
    assert failing.errors[0].exception_class_path == "shop.tasks.OutOfStock"
    assert "no apples left" in failing.errors[0].traceback
    text = log.read_text()
    assert "running queues: default (docket" in text and "emails (docket" in text
    worker_ids = {result.worker_ids[0] for result in results.values()}
    assert len(worker_ids) == 1


def test_sigterm_lets_a_running_task_finish(
    backend: DocketBackend, environment: dict[str, str], tmp_path: Path
) -> None:
    """The first SIGTERM stops taking work but lets the running task finish:
    its result is SUCCESSFUL and the worker exits 0."""
    from shop.tasks import nap

    log = tmp_path / "worker.log"
    with worker_process(environment, log, "--queue", "default") as process:
        enqueued = nap.enqueue(1.0)
        wait_until(
            lambda: nap.get_result(enqueued.id).status == TaskResultStatus.RUNNING,
            timeout=15,
        )
        assert stop(process, log) == 0, log.read_text()
    result = nap.get_result(enqueued.id)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == "slept 1.0"


def test_until_finished_returns_once_the_queues_are_empty(
    backend: DocketBackend,
) -> None:
    """`docket_worker --until-finished --queue emails` runs that queue's tasks
    and returns; the default queue's task still waits."""
    from django.core.management import call_command
    from shop.tasks import add, send_email

    email = send_email.enqueue("b@example.com")
    other = add.enqueue(1, 2)
    call_command("docket_worker", "--until-finished", "--queue", "emails")
    assert send_email.get_result(email.id).return_value == "sent to b@example.com"
    assert add.get_result(other.id).status == TaskResultStatus.READY


@pytest.mark.parametrize(
    "args, message",
    [
        (["--queue", "nope"], "has no queue 'nope'; its queues: default, emails"),
        (["--backend", "other"], "No task backend 'other'"),
        (["--concurrency", "0"], "--concurrency must be at least 1"),
    ],
)
def test_bad_worker_options_are_refused(
    backend: DocketBackend, args: list[str], message: str
) -> None:
    """A queue or backend the settings do not have, a concurrency below one:
    a CommandError (manage.py prints it and exits 1) before anything runs."""
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError) as refused:
        call_command("docket_worker", *args)
    assert message in str(refused.value)
