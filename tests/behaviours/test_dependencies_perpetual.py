"""Perpetual and Cron: next-run math, per-run copies, keywords, time zones, on_complete."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSimError

from docket.dependencies import (
    CompletionHandler,
    Cron,
    Perpetual,
    TaskOutcome,
    current_execution,
)
from docket.execution import Execution


async def the_task(a: int, b: str = "x") -> None:
    """A task that is scheduled perpetually."""


class FakeDocket:
    name = "test-docket"

    def __init__(self) -> None:
        self.tasks: dict[str, Any] = {"the_task": the_task, "alias": the_task}
        self.replaced: list[tuple[Any, datetime, str, tuple[Any, ...], dict[str, Any]]]
        self.replaced = []
        self.cancelled: list[tuple[str, bool]] = []

    def labels(self) -> dict[str, str]:
        return {"docket.name": self.name}

    def replace(self, function: Any, when: datetime, key: str) -> Any:
        async def schedule(*args: Any, **kwargs: Any) -> None:
            self.replaced.append((function, when, key, args, kwargs))

        return schedule

    def register(self, function: Any, names: list[str] | None = None) -> None:
        for name in names or [function.__name__]:
            self.tasks[name] = function

    async def withdraw(self, key: str) -> None:
        self.cancelled.append((key, False))


def make_execution(
    docket: FakeDocket | None = None,
    superseded: bool = False,
    function_name: str | None = None,
) -> Execution:
    execution = Execution(
        docket or FakeDocket(),  # type: ignore[arg-type]
        the_task,
        (1,),
        {"b": "y"},
        key="the-key",
        when=datetime.now(timezone.utc),
        attempt=1,
        function_name=function_name,
    )

    async def is_superseded() -> bool:
        return superseded

    execution.is_superseded = is_superseded  # type: ignore[method-assign]
    return execution


async def enter(declared: Perpetual, execution: Execution) -> Perpetual:
    token = current_execution.set(execution)
    try:
        return await declared.__aenter__()
    finally:
        current_execution.reset(token)


def test_perpetual_defaults() -> None:
    """Perpetual() runs back to back, is not automatic, and starts "now"."""
    perpetual = Perpetual()
    assert perpetual.every == timedelta(0)
    assert perpetual.automatic is False
    assert perpetual.initial_when is None
    assert perpetual.cancelled is False
    assert Perpetual.single is True
    assert isinstance(perpetual, CompletionHandler)


async def test_perpetual_enters_as_a_copy_with_the_call_arguments() -> None:
    """The entered copy carries the execution's args and kwargs."""
    declared = Perpetual(every=timedelta(seconds=5))
    entered = await enter(declared, make_execution())
    assert entered is not declared
    assert entered.args == (1,)
    assert entered.kwargs == {"b": "y"}
    assert entered.every == timedelta(seconds=5)
    assert declared.args == ()


def test_next_when_is_measured_start_to_start() -> None:
    """The successor is due `every` after this run started."""
    perpetual = Perpetual(every=timedelta(seconds=10))
    before = datetime.now(timezone.utc)
    when = perpetual.next_when(TaskOutcome(duration=timedelta(seconds=3)))
    after = datetime.now(timezone.utc)
    assert before + timedelta(seconds=7) <= when <= after + timedelta(seconds=7)


def test_next_when_is_now_after_an_overrun() -> None:
    """A run longer than `every` makes the successor due immediately."""
    perpetual = Perpetual(every=timedelta(seconds=1))
    before = datetime.now(timezone.utc)
    when = perpetual.next_when(TaskOutcome(duration=timedelta(seconds=30)))
    assert before <= when <= datetime.now(timezone.utc)


def test_after_and_at_override_the_interval() -> None:
    """after() and at() choose the exact time of the next run."""
    perpetual = Perpetual(every=timedelta(hours=1))
    exact = datetime(2030, 1, 1, tzinfo=timezone.utc)
    perpetual.at(exact)
    assert perpetual.next_when(TaskOutcome(duration=timedelta(0))) == exact

    before = datetime.now(timezone.utc)
    perpetual.after(timedelta(seconds=42))
    when = perpetual.next_when(TaskOutcome(duration=timedelta(0)))
    assert before + timedelta(seconds=42) <= when
    assert when <= datetime.now(timezone.utc) + timedelta(seconds=42)


async def test_on_complete_schedules_the_successor_with_replace(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """on_complete replaces the key with the next run and reports it handled."""
    docket = FakeDocket()
    execution = make_execution(docket)
    perpetual = await enter(Perpetual(every=timedelta(seconds=60)), execution)
    perpetual.perpetuate(2, b="z")

    with caplog.at_level(logging.INFO, logger="docket.worker"):
        handled = await perpetual.on_complete(
            execution, TaskOutcome(duration=timedelta(milliseconds=5))
        )

    assert handled is True
    [(function, when, key, args, kwargs)] = docket.replaced
    assert function == "the_task"
    assert key == "the-key"
    assert args == (2,)
    assert kwargs == {"b": "z"}
    assert when > datetime.now(timezone.utc) + timedelta(seconds=50)
    assert [record.levelname for record in caplog.records] == ["INFO"]
    assert caplog.records[0].getMessage().startswith("↫ [     5ms] the_task(")


async def test_on_complete_keeps_an_alias() -> None:
    """A task run under an alias is perpetuated under that alias."""
    docket = FakeDocket()
    execution = make_execution(docket, function_name="alias")
    perpetual = await enter(Perpetual(), execution)
    await perpetual.on_complete(execution, TaskOutcome(duration=timedelta(0)))
    assert docket.replaced[0][0] == "alias"


async def test_on_complete_after_failure_logs_the_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failed run is still perpetuated, with its traceback logged at ERROR."""
    docket = FakeDocket()
    execution = make_execution(docket)
    perpetual = await enter(Perpetual(), execution)
    outcome = TaskOutcome(duration=timedelta(0), exception=RuntimeError("boom"))
    with caplog.at_level(logging.INFO, logger="docket.worker"):
        assert await perpetual.on_complete(execution, outcome) is True
    assert len(docket.replaced) == 1
    assert [record.levelname for record in caplog.records] == ["ERROR", "INFO"]


async def test_on_complete_when_cancelled_schedules_nothing_and_lets_the_run_end() -> (
    None
):
    """After cancel() no successor is scheduled and the key is left alone (the run
    itself still ends as its body did); the handler declines."""
    docket = FakeDocket()
    execution = make_execution(docket)
    perpetual = await enter(Perpetual(), execution)
    perpetual.cancel()
    assert await perpetual.on_complete(execution, TaskOutcome(timedelta(0))) is False
    assert docket.cancelled == []
    assert docket.replaced == []


async def test_on_complete_when_superseded_schedules_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A superseded run logs `(superseded)` and does not schedule a successor."""
    docket = FakeDocket()
    execution = make_execution(docket, superseded=True)
    perpetual = await enter(Perpetual(), execution)
    with caplog.at_level(logging.INFO, logger="docket.worker"):
        assert await perpetual.on_complete(execution, TaskOutcome(timedelta(0))) is True
    assert docket.replaced == []
    assert caplog.records[0].getMessage().endswith("(superseded)")


@pytest.mark.parametrize(
    "keyword, expanded",
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
    ],
)
def test_cron_keywords_are_expanded(keyword: str, expanded: str) -> None:
    """Cron keywords are stored in their expanded five-field form."""
    assert Cron(keyword).expression == expanded


def test_cron_defaults() -> None:
    """Cron is automatic and evaluated in UTC unless told otherwise."""
    cron = Cron("*/5 * * * *")
    assert cron.automatic is True
    assert cron.tz is timezone.utc
    assert cron.expression == "*/5 * * * *"
    assert isinstance(cron, Perpetual)


@pytest.mark.parametrize("expression", ["@reboot", "not cron", "61 * * * *"])
def test_invalid_cron_expressions_raise_at_construction(expression: str) -> None:
    """Invalid expressions, including @reboot, raise when the Cron is built."""
    with pytest.raises(CronSimError):
        Cron(expression)


def test_next_time_advances_through_matches() -> None:
    """next_time() returns successive aware matching times."""
    cron = Cron("@hourly")
    first = cron.next_time()
    second = cron.next_time()
    assert first.tzinfo is not None
    assert first > datetime.now(timezone.utc) - timedelta(seconds=1)
    assert (first.minute, first.second) == (0, 0)
    assert second - first == timedelta(hours=1)


def test_initial_when_is_the_next_match() -> None:
    """An automatic cron task waits for its first matching time."""
    cron = Cron("@daily")
    when = cron.initial_when
    assert when is not None
    assert (when.hour, when.minute) == (0, 0)
    assert when > datetime.now(timezone.utc)


def test_cron_in_a_time_zone() -> None:
    """The expression is evaluated in the given zone."""
    tz = ZoneInfo("America/New_York")
    cron = Cron("30 9 * * *", tz=tz)
    when = cron.next_time()
    local = when.astimezone(tz)
    assert (local.hour, local.minute) == (9, 30)
    assert when.utcoffset() in (timedelta(hours=-5), timedelta(hours=-4))


def test_cron_across_a_dst_change() -> None:
    """Daily 09:00 in a DST zone stays at 09:00 local time across the change."""
    tz = ZoneInfo("Europe/Berlin")
    cron = Cron("0 9 * * *", tz=tz)
    cron._iterator = cron._iterate_from(datetime(2030, 3, 29, 12, tzinfo=tz))
    times = [cron.next_time() for _ in range(3)]
    assert [t.astimezone(tz).hour for t in times] == [9, 9, 9]
    offsets = [t.utcoffset() for t in times]
    assert offsets == [timedelta(hours=1), timedelta(hours=2), timedelta(hours=2)]


async def test_cron_enters_as_a_fresh_copy() -> None:
    """Each run's copy has its own iterator, so the declaration does not advance."""
    declared = Cron("@hourly")
    entered = await enter(declared, make_execution())
    assert isinstance(entered, Cron)
    assert entered is not declared
    assert entered.args == (1,)
    first = entered.next_time()
    assert declared.next_time() == first


async def test_cron_on_complete_schedules_the_next_match() -> None:
    """on_complete schedules the successor at the next wall-clock match."""
    docket = FakeDocket()
    execution = make_execution(docket)
    cron = await enter(Cron("0 0 1 1 *"), execution)
    assert await cron.on_complete(execution, TaskOutcome(timedelta(hours=2))) is True
    when = docket.replaced[0][1]
    assert (when.month, when.day, when.hour, when.minute) == (1, 1, 0, 0)
