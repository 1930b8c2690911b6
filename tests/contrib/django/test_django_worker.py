"""How a worker runs Django tasks (in this process): sync tasks in threads off
the event loop, database connections handled as Django's request cycle does,
Django's task signals, cancellation, strikes, and messages that are not Django
tasks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from docket import Docket, ExecutionState
from docket.contrib.django import DocketBackend
from docket.contrib.django._compat import (
    TaskResultDoesNotExist,
    TaskResultStatus,
    task_enqueued,
    task_finished,
    task_started,
)
from docket.contrib.django._portal import portal
from tests._support.servers import RedisServer
from tests.contrib.django.conftest import run_queues


def test_sync_tasks_run_at_once_off_the_event_loop(backend: DocketBackend) -> None:
    """Two plain tasks that wait for each other both finish (they run in
    threads at the same time), and a plain task blocked until a coroutine task
    runs is released (the loop is never blocked by a plain task)."""
    from shop.tasks import PAIR, RELEASED, meet, release, wait_for_release

    PAIR.reset()
    RELEASED.clear()
    first, second = meet.enqueue(), meet.enqueue()
    waiting = wait_for_release.enqueue()
    releasing = release.enqueue()
    run_queues(backend, "default", concurrency=4)
    assert meet.get_result(first.id).return_value == "met"
    assert meet.get_result(second.id).return_value == "met"
    assert wait_for_release.get_result(waiting.id).return_value is True
    assert release.get_result(releasing.id).status == TaskResultStatus.SUCCESSFUL


@pytest.fixture
def conn_max_age(request: pytest.FixtureRequest) -> Iterator[Any]:
    from django.db import connections

    settings = connections.settings["default"]
    before = settings.get("CONN_MAX_AGE", 0)
    settings["CONN_MAX_AGE"] = request.param
    yield request.param
    settings["CONN_MAX_AGE"] = before


@pytest.mark.parametrize(
    "conn_max_age, found_open",
    [(0, [False, False]), (None, [False, True])],
    indirect=["conn_max_age"],
)
def test_database_connections_are_handled_like_requests(
    backend: DocketBackend, conn_max_age: Any, found_open: list[bool]
) -> None:
    """Around each task the worker closes the connections Django would close
    around a request: with CONN_MAX_AGE=0 every task starts without one; a
    persistent connection (CONN_MAX_AGE=None) is kept for the next task."""
    from shop.tasks import connection_state

    first, second = connection_state.enqueue(), connection_state.enqueue()
    run_queues(backend, "default", concurrency=1)  # one thread runs both
    assert (
        sorted(
            [
                connection_state.get_result(first.id).return_value,
                connection_state.get_result(second.id).return_value,
            ]
        )
        == found_open
    )


def test_tasks_use_the_database_from_sync_and_async_code(
    backend: DocketBackend,
) -> None:
    """A plain task and a coroutine task write rows of the project's SQLite
    database through the ORM."""
    from shop.models import Note
    from shop.tasks import write_note, write_note_async

    plain = write_note.enqueue("plain")
    coroutine = write_note_async.enqueue("async")
    run_queues(backend, "default")
    pks = [
        write_note.get_result(plain.id).return_value,
        write_note_async.get_result(coroutine.id).return_value,
    ]
    texts = dict(Note.objects.filter(pk__in=pks).values_list("pk", "text"))
    assert texts == {pks[0]: "plain", pks[1]: "async"}


def test_django_task_signals_are_sent(backend: DocketBackend) -> None:
    """task_enqueued when enqueued, task_started and task_finished around the
    run, each with the result as it stands then."""
    from shop.tasks import add, fail

    seen: list[tuple[str, str, Any]] = []

    def record(signal_name: str) -> Any:
        def receiver(sender: Any, task_result: Any, **kwargs: Any) -> None:
            seen.append((signal_name, task_result.task.name, task_result.status))

        return receiver

    receivers = {
        task_enqueued: record("enqueued"),
        task_started: record("started"),
        task_finished: record("finished"),
    }
    for signal, receiver in receivers.items():
        signal.connect(receiver)
    try:
        add.enqueue(1, 2)
        fail.enqueue("pears")
        run_queues(backend, "default", concurrency=1)
    finally:
        for signal, receiver in receivers.items():
            signal.disconnect(receiver)
    assert sorted(seen) == sorted(
        [
            ("enqueued", "add", TaskResultStatus.READY),
            ("enqueued", "fail", TaskResultStatus.READY),
            ("started", "add", TaskResultStatus.RUNNING),
            ("started", "fail", TaskResultStatus.RUNNING),
            ("finished", "add", TaskResultStatus.SUCCESSFUL),
            ("finished", "fail", TaskResultStatus.FAILED),
        ]
    )


def _on_portal(backend: DocketBackend, work: Any) -> Any:
    async def run() -> Any:
        return await work(await backend.docket("default"))

    return portal.call(run())


def test_a_cancelled_task_is_failed(backend: DocketBackend) -> None:
    """docket.cancel() of a waiting task: FAILED, the error naming
    ExecutionCancelled; it never runs."""
    from shop.tasks import add

    later = datetime.now(timezone.utc) + timedelta(minutes=5)
    enqueued = add.using(run_after=later).enqueue(1, 2)

    async def cancel(docket: Docket) -> None:
        await docket.cancel(enqueued.id)

    _on_portal(backend, cancel)
    result = add.get_result(enqueued.id)
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[0].exception_class_path.endswith(".ExecutionCancelled")
    assert result.worker_ids == [] and result.started_at is None


def test_a_struck_task_is_not_enqueued(backend: DocketBackend) -> None:
    """A strike on the task's module path: enqueue returns a FAILED result
    naming TaskStruck, and there is nothing to read back."""
    from shop.tasks import add

    async def strike(docket: Docket) -> None:
        await docket.strike("shop.tasks.add")

    async def restore(docket: Docket) -> None:
        await docket.restore("shop.tasks.add")

    _on_portal(backend, strike)
    try:
        refused = add.enqueue(1, 2)
    finally:
        _on_portal(backend, restore)
    assert refused.status == TaskResultStatus.FAILED
    assert (
        refused.errors[0].exception_class_path
        == "docket.contrib.django._outcome.TaskStruck"
    )
    assert "strike" in refused.errors[0].traceback
    with pytest.raises(TaskResultDoesNotExist):
        add.get_result(refused.id)
    assert add.enqueue(1, 2).status == TaskResultStatus.READY


def test_a_message_that_is_no_django_task_fails_with_the_reason(
    backend: DocketBackend, redis_server: RedisServer, docket_prefix: str
) -> None:
    """A message in a queue's Docket whose name does not import as a Django
    task fails (it is not dropped) with the reason; get_result says it is no
    Django task's result."""

    async def elsewhere(value: int) -> int:
        return value

    async def add_foreign() -> list[str]:
        async with Docket(
            name=docket_prefix, url=redis_server.url, serializer="json"
        ) as docket:
            docket.register(elsewhere, names=["shop.models.Note"])
            docket.register(elsewhere, names=["nowhere.at_all"])
            one = await docket.add("shop.models.Note")(1)
            two = await docket.add("nowhere.at_all")(2)
            return [one.key, two.key]

    keys = asyncio.run(add_foreign())
    run_queues(backend, "default")

    async def read() -> list[Any]:
        async with Docket(name=docket_prefix, url=redis_server.url) as docket:
            return [await docket.get_execution(key) for key in keys]

    first, second = asyncio.run(read())
    assert (
        first.state is ExecutionState.FAILED and second.state is ExecutionState.FAILED
    )
    assert "not a Django task" in first.error
    assert "cannot be imported" in second.error
    with pytest.raises(TaskResultDoesNotExist, match="not a Django task"):
        backend.get_result(keys[0])


def test_enqueue_while_redis_is_down_raises_and_loses_nothing(
    django_site: Any, docket_prefix: str
) -> None:
    """With Redis gone, enqueue raises Redis's ConnectionError (the caller
    knows the task was not taken); once Redis is back the same backend works
    again and the task enqueued before the outage runs."""
    from django.test import override_settings
    from redis.exceptions import ConnectionError as RedisConnectionError
    from shop.tasks import add

    from docket.contrib.django._compat import task_backends
    from tests.contrib.django.conftest import tasks_setting

    server = RedisServer().start()
    try:
        with override_settings(TASKS=tasks_setting(server.url, docket_prefix)):
            backend = task_backends["default"]
            before = add.enqueue(1, 1)
            server.stop()
            with pytest.raises(RedisConnectionError):
                add.enqueue(2, 2)
            server.start()
            after = add.enqueue(3, 3)
            run_queues(backend, "default")
            assert add.get_result(before.id).return_value == 2
            assert add.get_result(after.id).return_value == 6
    finally:
        portal.close()
        server.close()


def test_a_transaction_enqueues_on_commit_only(backend: DocketBackend) -> None:
    """transaction.on_commit(partial(task.enqueue, ...)): nothing is enqueued
    when the transaction rolls back; the task is enqueued once it commits."""
    from functools import partial

    from django.db import transaction
    from shop.models import Note
    from shop.tasks import write_note

    enqueued: list[Any] = []

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction.atomic():
        Note.objects.create(text="rolled back")
        transaction.on_commit(lambda: enqueued.append(write_note.enqueue("never")))
        raise Rollback
    assert enqueued == []
    with transaction.atomic():
        Note.objects.create(text="kept")
        transaction.on_commit(partial(lambda: enqueued.append(write_note.enqueue("x"))))
        assert enqueued == []
    assert len(enqueued) == 1
    run_queues(backend, "default")
    assert write_note.get_result(enqueued[0].id).status == TaskResultStatus.SUCCESSFUL


def test_times_follow_django_settings_without_time_zones(
    backend: DocketBackend,
) -> None:
    """With USE_TZ = False Django's times are naive in TIME_ZONE: a naive
    run_after is read in that zone, and results report naive local times."""
    from django.test import override_settings
    from django.utils import timezone as django_timezone
    from shop.tasks import add

    with override_settings(USE_TZ=False, TIME_ZONE="Asia/Tokyo"):
        local_now = django_timezone.now()
        assert local_now.tzinfo is None
        run_after = local_now + timedelta(milliseconds=300)
        enqueued = add.using(run_after=run_after).enqueue(2, 2)
        assert enqueued.enqueued_at.tzinfo is None
        assert abs(enqueued.enqueued_at - local_now) < timedelta(seconds=5)
        waiting = add.get_result(enqueued.id)
        assert abs(waiting.task.run_after - run_after) < timedelta(milliseconds=1)
        run_queues(backend, "default")
        done = add.get_result(enqueued.id)
        assert done.started_at.tzinfo is None and done.started_at >= run_after
        assert done.return_value == 4


FORKING = """
import json, os, sys, warnings
warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads running
import django
django.setup()
from shop.tasks import add
ids = [add.enqueue(1, 1).id]  # the parent's portal is running now
reader, writer = os.pipe()
child = os.fork()
if child == 0:
    os.close(reader)
    os.write(writer, add.enqueue(2, 2).id.encode())
    os._exit(0)
os.close(writer)
_, status = os.waitpid(child, 0)
ids.append(os.read(reader, 100).decode())
ids.append(add.enqueue(3, 3).id)
print("IDS " + json.dumps({"status": status, "ids": ids}))
"""


def test_a_forked_process_enqueues_through_its_own_loop(
    backend: DocketBackend,
    redis_server: RedisServer,
    docket_prefix: str,
    tmp_path: Path,
) -> None:
    """A pre-forking server's child (forked after the parent enqueued) starts
    its own portal instead of using the parent's dead thread; both enqueue."""
    import json
    import subprocess
    import sys

    from tests.contrib.django.conftest import SITE, site_environment

    environment = site_environment(
        redis_server.url, docket_prefix, tmp_path / "db.sqlite3"
    )
    environment["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
    result = subprocess.run(
        [sys.executable, "-c", FORKING],
        cwd=SITE,
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.split("IDS ", 1)[1])
    assert outcome["status"] == 0
    from shop.tasks import add

    run_queues(backend, "default")
    assert [add.get_result(id_).return_value for id_ in outcome["ids"]] == [2, 4, 6]
