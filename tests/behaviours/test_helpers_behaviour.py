"""Agenda, Logged and docket.testing through a real Docket and Worker."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

import pytest

from docket import (
    Agenda,
    Disposition,
    Docket,
    ExecutionState,
    Logged,
    Worker,
    _clock,
    testing,
)
from docket.contrib.pytest import DocketRunner, VirtualClock

RAN: list[tuple[str, datetime]] = []


async def visit(page: str) -> None:
    """Records when each page was visited."""
    RAN.append((page, _clock.utcnow()))  # the scheduling clock (virtual below)


async def other(n: int) -> None:
    """A second task type for mixed agendas."""
    RAN.append((f"other-{n}", _clock.utcnow()))


@pytest.fixture(autouse=True)
def fresh_log() -> None:
    RAN.clear()


async def drain(worker: Worker) -> None:
    await asyncio.wait_for(worker.run_until_finished(), 15)


# ---- Agenda -----------------------------------------------------------------------


async def test_scatter_spreads_tasks_evenly_and_each_runs_on_time(docket: Docket):
    """Five calls over four hours land an hour apart from now, and each runs at
    its time (on a virtual clock), none before."""
    agenda = Agenda()
    for page in "abcd":
        agenda.add(visit)(page)
    agenda.add(other)(1)
    async with DocketRunner(docket) as runner:
        with VirtualClock(runner) as clock:
            start = clock.now
            executions = await agenda.scatter(docket, over=timedelta(hours=4))
            assert [e.when - start for e in executions] == [
                timedelta(hours=i) for i in range(5)
            ]
            await clock.advance(hours=3, minutes=59)
            assert [page for page, _ in RAN] == ["a", "b", "c", "d"]
            await clock.advance(minutes=1)
    assert RAN == [
        (page, e.when) for page, e in zip("abcd", executions, strict=False)
    ] + [("other-1", executions[-1].when)]


async def test_stable_keys_make_rescatter_idempotent(docket: Docket):
    """With explicit keys, scattering again schedules nothing new."""
    agenda = Agenda()
    agenda.add(visit, key="page-a")("a")
    agenda.add(visit, key="page-b")("b")
    first = await agenda.scatter(docket, over=timedelta(minutes=1))
    second = await agenda.scatter(docket, over=timedelta(minutes=1))
    assert [e.disposition for e in first] == [Disposition.SCHEDULED] * 2
    assert [e.disposition for e in second] == [Disposition.ALREADY_SCHEDULED] * 2
    await testing.assert_task_count(docket, visit, count=2)


async def test_scatter_reports_struck_entries(docket: Docket):
    """A struck entry comes back STRUCK; the others are scheduled."""
    await docket.strike(visit, "page", "==", "secret")
    agenda = Agenda()
    agenda.add(visit)("public")
    agenda.add(visit)("secret")
    executions = await agenda.scatter(docket, over=timedelta(seconds=10))
    assert [e.disposition for e in executions] == [
        Disposition.SCHEDULED,
        Disposition.STRUCK,
    ]


async def test_unknown_names_schedule_nothing(docket: Docket):
    """A name that is not registered raises KeyError before anything is scheduled."""
    agenda = Agenda()
    agenda.add(visit)("a")
    agenda.add("no_such_task")()
    with pytest.raises(KeyError, match="Task 'no_such_task' is not registered"):
        await agenda.scatter(docket, over=timedelta(seconds=10))
    await testing.assert_no_tasks(docket)


async def test_jitter_stays_inside_the_window(docket: Docket):
    """With jitter, each time moves by at most the jitter and never before start."""
    agenda = Agenda()
    for n in range(6):
        agenda.add(other)(n)
    start = datetime.now(timezone.utc) + timedelta(seconds=5)
    jitter = timedelta(seconds=1)
    executions = await agenda.scatter(
        docket, over=timedelta(seconds=10), start=start, jitter=jitter
    )
    for i, execution in enumerate(executions):
        planned = start + timedelta(seconds=2 * i)
        assert abs(execution.when - planned) <= jitter
        assert execution.when >= start


@pytest.mark.parametrize(
    "options, error, message",
    [
        ({"over": timedelta(0)}, ValueError, "'over' parameter must be a positive"),
        ({"over": 10}, TypeError, "'over' must be a timedelta"),
        ({"over": timedelta(seconds=1), "jitter": 1}, TypeError, "'jitter' must be"),
        (
            {"over": timedelta(seconds=1), "start": datetime(2030, 1, 1)},
            TypeError,
            "'start' must be a timezone-aware datetime",
        ),
    ],
)
async def test_bad_scatter_arguments_are_refused(
    docket: Docket, options: dict[str, Any], error: type[Exception], message: str
):
    """Bad windows, jitters and start times raise clear errors."""
    agenda = Agenda()
    agenda.add(visit)("a")
    with pytest.raises(error, match=message):
        await agenda.scatter(docket, **options)


def test_agenda_add_refuses_what_is_not_a_task() -> None:
    """Only functions and task names can be recorded."""
    with pytest.raises(TypeError, match="needs a task function or a task name"):
        Agenda().add(42)  # type: ignore[call-overload]


# ---- Logged -----------------------------------------------------------------------


async def test_logged_arguments_appear_in_the_worker_log(
    docket: Docket, worker: Worker, caplog: pytest.LogCaptureFixture
):
    """Marked arguments are shown (with repr or their length); the rest are '...'."""

    async def send(
        to: Annotated[str, Logged],
        body: str,
        attachments: Annotated[list[str], Logged(length_only=True)],
    ) -> None: ...

    await docket.add(send, key="mail-1")("ann@example.com", "secret", ["a", "b"])
    with caplog.at_level(logging.INFO, logger="docket.worker"):
        await drain(worker)
    assert "send('ann@example.com', ..., [len 2]){mail-1}" in caplog.text
    assert "secret" not in caplog.text


# ---- docket.testing ---------------------------------------------------------------


async def test_assertion_helpers_on_a_real_docket(docket: Docket, worker: Worker):
    """The helpers see waiting tasks, and nothing once the worker has drained them."""
    later = datetime.now(timezone.utc) + timedelta(milliseconds=100)
    await docket.add(visit, key="home")("home")
    await docket.add(visit, when=later, key="about")("about")
    await docket.add(other)(3)

    await testing.assert_task_scheduled(docket, visit, args=("home",), key="home")
    await testing.assert_task_scheduled(docket, "visit", args=("about",))
    await testing.assert_task_not_scheduled(docket, visit, args=("contact",))
    await testing.assert_task_count(docket, count=3)
    await testing.assert_task_count(docket, visit, count=2)
    with pytest.raises(AssertionError, match="Expected no tasks, found 3 task"):
        await testing.assert_no_tasks(docket)

    await drain(worker)
    await testing.assert_no_tasks(docket)
    with pytest.raises(AssertionError, match="no tasks scheduled on docket"):
        await testing.assert_task_scheduled(docket, visit)


async def test_running_tasks_are_not_counted(docket: Docket, worker: Worker):
    """Only waiting work is seen: a task that is running does not count."""
    started, finish = asyncio.Event(), asyncio.Event()

    async def busy() -> None:
        started.set()
        await asyncio.wait_for(finish.wait(), 10)

    execution = await docket.add(busy)()
    run = asyncio.ensure_future(worker.run_until_finished())
    await asyncio.wait_for(started.wait(), 5)
    await testing.assert_no_tasks(docket)
    finish.set()
    await asyncio.wait_for(run, 10)
    await execution.sync()
    assert execution.state is ExecutionState.COMPLETED
