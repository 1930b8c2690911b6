"""Agenda: recording calls and scattering them over a window."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from docket import Agenda, Disposition, Docket
from docket._redis import clear_memory_servers
from docket.agenda import spread

START = datetime(2030, 1, 1, tzinfo=timezone.utc)


async def ping(n: int, label: str = "") -> None:
    """A task to scatter."""


async def pong() -> None:
    """A second task, not registered up front."""


class FakeDocket:
    """Records registrations and ``add`` calls instead of scheduling anything."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.tasks: dict[str, Callable[..., Awaitable[Any]]] = {"ping": ping}
        self.registered: list[Any] = []
        self.added: list[
            tuple[Any, datetime, str, tuple[Any, ...], dict[str, Any]]
        ] = []
        self.fail_on = fail_on

    def register(self, function: Callable[..., Awaitable[Any]]) -> None:
        self.registered.append(function)
        self.tasks[function.__name__] = function

    def add(
        self, function: Any, when: datetime, key: str
    ) -> Callable[..., Awaitable[Any]]:
        async def schedule(*args: Any, **kwargs: Any) -> Any:
            if self.fail_on is not None and len(self.added) == self.fail_on:
                raise RuntimeError("schedule failed")
            self.added.append((function, when, key, args, kwargs))
            return ("execution", key)

        return schedule


def test_even_spread_includes_both_ends() -> None:
    """n > 1 tasks land at start + i*over/(n-1), from start to start + over."""
    over = timedelta(minutes=10)
    times = spread(5, START, over)
    assert times == [START + timedelta(seconds=150 * i) for i in range(5)]


def test_single_task_lands_mid_window() -> None:
    """One task is placed at the middle of the window."""
    assert spread(1, START, timedelta(hours=1)) == [START + timedelta(minutes=30)]


def test_jitter_stays_within_bounds_and_after_start() -> None:
    """Jitter moves each time by at most +/- jitter and never before start."""
    over, jitter = timedelta(seconds=100), timedelta(seconds=7)
    for _ in range(20):
        base = spread(11, START, over)
        jittered = spread(11, START, over, jitter)
        for plain, moved in zip(base, jittered, strict=True):
            assert abs(moved - plain) <= jitter
            assert moved >= START
    assert spread(3, START, over, timedelta(0)) == spread(3, START, over)


async def test_scatter_schedules_every_entry_in_order() -> None:
    """scatter calls docket.add(function, when, key)(*args, **kwargs) in order."""
    agenda = Agenda()
    agenda.add(ping)(1, label="a")
    agenda.add("ping", key="fixed")(2)
    agenda.add(ping)(3)
    docket = FakeDocket()
    results = await agenda.scatter(docket, timedelta(minutes=2), start=START)  # type: ignore[arg-type]
    assert [entry[1] for entry in docket.added] == [
        START,
        START + timedelta(minutes=1),
        START + timedelta(minutes=2),
    ]
    assert [entry[0] for entry in docket.added] == [ping, "ping", ping]
    assert [entry[3:] for entry in docket.added] == [
        ((1,), {"label": "a"}),
        ((2,), {}),
        ((3,), {}),
    ]
    assert docket.added[1][2] == "fixed"
    assert results == [("execution", entry[2]) for entry in docket.added]


async def test_keys_are_fresh_on_each_scatter_unless_given() -> None:
    """Entries without a key get a new uuid7 per scatter; explicit keys repeat."""
    agenda = Agenda()
    agenda.add(ping)(1)
    agenda.add(ping, key="stable")(2)
    docket = FakeDocket()
    await agenda.scatter(docket, timedelta(seconds=1))  # type: ignore[arg-type]
    await agenda.scatter(docket, timedelta(seconds=1))  # type: ignore[arg-type]
    keys = [entry[2] for entry in docket.added]
    assert keys[1] == keys[3] == "stable"
    assert keys[0] != keys[2]
    assert uuid.UUID(keys[0]).version == 7


@pytest.mark.parametrize("over", [timedelta(0), timedelta(seconds=-1)])
async def test_over_must_be_positive(over: timedelta) -> None:
    """A zero or negative window raises ValueError before anything happens."""
    agenda = Agenda()
    agenda.add(ping)(1)
    with pytest.raises(
        ValueError, match="^'over' parameter must be a positive duration$"
    ):
        await agenda.scatter(FakeDocket(), over)  # type: ignore[arg-type]


async def test_empty_agenda_returns_nothing() -> None:
    """An empty agenda scatters to an empty list."""
    assert await Agenda().scatter(FakeDocket(), timedelta(seconds=1)) == []  # type: ignore[arg-type]


async def test_unknown_name_schedules_nothing() -> None:
    """Names are resolved first: an unknown one raises KeyError and nothing is added."""
    agenda = Agenda()
    agenda.add(ping)(1)
    agenda.add(pong)()
    agenda.add("missing")(2)
    docket = FakeDocket()
    with pytest.raises(KeyError, match="Task 'missing' is not registered"):
        await agenda.scatter(docket, timedelta(seconds=1))  # type: ignore[arg-type]
    assert docket.added == [] and docket.registered == []


async def test_unregistered_functions_are_registered() -> None:
    """Function objects missing from the registry are registered before scheduling."""
    agenda = Agenda()
    agenda.add(pong)()
    agenda.add(ping)(1)
    docket = FakeDocket()
    await agenda.scatter(docket, timedelta(seconds=1))  # type: ignore[arg-type]
    assert docket.registered == [pong]


async def test_failure_partway_keeps_earlier_tasks() -> None:
    """An error while scheduling leaves the tasks before it scheduled."""
    agenda = Agenda()
    for n in range(3):
        agenda.add(ping)(n)
    docket = FakeDocket(fail_on=1)
    with pytest.raises(RuntimeError, match="schedule failed"):
        await agenda.scatter(docket, timedelta(seconds=1))  # type: ignore[arg-type]
    assert [entry[3] for entry in docket.added] == [(0,)]


async def test_start_defaults_to_now() -> None:
    """Without start, the window begins at the current time."""
    agenda = Agenda()
    agenda.add(ping)(1)
    docket = FakeDocket()
    before = datetime.now(timezone.utc)
    await agenda.scatter(docket, timedelta(seconds=10))  # type: ignore[arg-type]
    after = datetime.now(timezone.utc)
    when = docket.added[0][1]
    assert before + timedelta(seconds=5) <= when <= after + timedelta(seconds=5)


def test_agenda_is_a_reusable_collection() -> None:
    """len(), iteration over (function, args, kwargs, key) and clear() work."""
    agenda = Agenda()
    agenda.add(ping, key="k")(1, label="x")
    agenda.add("ping")(2)
    assert len(agenda) == 2
    assert list(agenda) == [(ping, (1,), {"label": "x"}, "k"), ("ping", (2,), {}, None)]
    agenda.clear()
    assert len(agenda) == 0 and list(agenda) == []


@pytest.fixture
async def memory_docket() -> AsyncIterator[Docket]:
    url = f"memory://agenda-{uuid.uuid4().hex[:8]}"
    async with Docket(name=f"agenda-{uuid.uuid4().hex[:8]}", url=url) as docket:
        yield docket
    clear_memory_servers()


async def test_scatter_on_a_real_docket(memory_docket: Docket) -> None:
    """On a real docket, stable keys make re-scatter idempotent and strikes apply."""
    agenda = Agenda()
    agenda.add(ping, key="first")(1)
    agenda.add(ping, key="second")(2)
    agenda.add(pong, key="third")()
    await memory_docket.strike(pong)
    executions = await agenda.scatter(memory_docket, timedelta(hours=1), start=START)
    assert [e.disposition for e in executions] == [
        Disposition.SCHEDULED,
        Disposition.SCHEDULED,
        Disposition.STRUCK,
    ]
    assert [e.when for e in executions[:2]] == [START, START + timedelta(minutes=30)]
    again = await agenda.scatter(memory_docket, timedelta(hours=1), start=START)
    assert [e.disposition for e in again[:2]] == [Disposition.ALREADY_SCHEDULED] * 2
    snapshot = await memory_docket.snapshot()
    assert sorted(e.key for e in snapshot.future) == ["first", "second"]
