"""Tasks with a ``Signal(...)`` parameter: WAITING (no slot) until
``docket.signal`` sends their signal (or a kept one is there when they are added),
then run once with its payload; a timeout takes the default or fails the task."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from docket import (
    Docket,
    ExecutionState,
    Retry,
    Signal,
    SignalTimeout,
    Worker,
)
from docket.contrib.pytest import DocketRunner, VirtualClock
from tests._support.waits import blip_once, reaches, run, run_until, state
from tests.conftest import eventually

ran: list[tuple[str, Any]] = []
KEY, OTHER = "k" * 32, "o" * 32


async def publish(
    post_id: str,
    decision: dict[str, Any] | None = Signal(
        "review-{post_id}", timeout=timedelta(days=2), default=None
    ),
) -> None:
    ran.append((post_id, decision))


async def hurried(
    post_id: str,
    decision: str = Signal("quick-{post_id}", timeout=timedelta(milliseconds=300)),
) -> None:
    ran.append((post_id, decision))


async def lenient(
    post_id: str,
    decision: str = Signal(
        "maybe-{post_id}", timeout=timedelta(milliseconds=300), default="default"
    ),
) -> None:
    ran.append((post_id, decision))


async def retried(
    post_id: str,
    decision: str = Signal("again-{post_id}", timeout=timedelta(milliseconds=300)),
    retry: Retry = Retry(attempts=2),
) -> None:
    ran.append((post_id, decision))


async def misnamed(post_id: str, x: str = Signal("about-{missing}")) -> None:
    ran.append((post_id, x))  # pragma: no cover (never added)


@pytest.fixture(autouse=True)
def _tasks(docket: Docket) -> None:
    ran.clear()
    for task in (publish, hurried, lenient, retried):
        docket.register(task)


async def test_a_waiting_task_runs_once_with_the_payload(docket: Docket):
    """The task is WAITING until its signal comes; the signal releases it (True),
    and it runs once with the payload as the parameter's value."""
    execution = await docket.add(publish, key="p-1")("1")
    assert execution.state is ExecutionState.WAITING
    await run(docket)
    assert ran == [] and await state(docket, "p-1") is ExecutionState.WAITING
    assert await docket.signal("review-1", {"approved": True}) is True
    await run(docket)
    assert ran == [("1", {"approved": True})]
    assert await state(docket, "p-1") is ExecutionState.COMPLETED


async def test_a_signal_sent_first_is_kept_and_consumed_by_the_first_waiter(
    docket: Docket,
):
    """Sent before anyone waits, the signal is kept (False); the first task added
    for it consumes it at once and is queued, the next one waits."""
    assert await docket.signal("review-7", "early") is False
    first = await docket.add(publish, key="first")("7")
    second = await docket.add(publish, key="second")("7")
    assert first.state is ExecutionState.QUEUED
    assert second.state is ExecutionState.WAITING
    await run(docket)
    assert ran == [("7", "early")]


async def test_one_signal_releases_one_waiter_the_oldest(docket: Docket):
    """With two tasks waiting for one name, a signal releases the one that has
    waited longest; the next signal the other."""
    await docket.add(publish, key="older")("9")
    await docket.add(publish, key="newer")("9")
    assert await docket.signal("review-9", "one") is True
    assert await state(docket, "older") is ExecutionState.QUEUED
    assert await state(docket, "newer") is ExecutionState.WAITING
    assert await docket.signal("review-9", "two") is True
    await run(docket)
    assert sorted(ran) == [("9", "one"), ("9", "two")]


async def test_concurrent_signals_release_a_waiter_once(docket: Docket):
    """Two signals sent at once to one waiter: one releases it (True), the other
    is kept (False); the task runs once, with one of the payloads."""
    await docket.add(publish, key="once")("3")
    sent = await asyncio.gather(
        docket.signal("review-3", "a"), docket.signal("review-3", "b")
    )
    assert sorted(sent) == [False, True]
    await run(docket)
    assert len(ran) == 1 and ran[0][1] in ("a", "b")


async def test_a_lookback_of_zero_drops_a_signal_nobody_waits_for(docket: Docket):
    """``lookback=timedelta(0)``: a signal nobody waits for is not kept."""
    assert await docket.signal("review-4", "lost", lookback=timedelta(0)) is False
    execution = await docket.add(publish, key="later")("4")
    assert execution.state is ExecutionState.WAITING


async def test_a_kept_signal_expires_after_its_lookback(docket: Docket):
    """A kept signal past its lookback is not consumed by a later waiter."""
    assert (
        await docket.signal("review-5", "old", lookback=timedelta(seconds=1)) is False
    )
    await asyncio.sleep(1.2)  # the lookback is real time: the thing under test
    execution = await docket.add(publish, key="late")("5")
    assert execution.state is ExecutionState.WAITING


async def test_a_timeout_takes_the_default(docket: Docket):
    """At its timeout the task runs with the Signal's default."""
    await docket.add(lenient, key="l-1")("1")
    await run_until(docket, reaches(docket, "l-1", ExecutionState.COMPLETED))
    assert ran == [("1", "default")]


async def test_a_timeout_without_default_fails_with_signal_timeout(docket: Docket):
    """Without a default the task fails with SignalTimeout, naming the signal."""
    execution = await docket.add(hurried, key="h-1")("1")
    await run_until(docket, reaches(docket, "h-1", ExecutionState.FAILED))
    assert ran == []
    await execution.sync()
    assert execution.state is ExecutionState.FAILED
    with pytest.raises(SignalTimeout, match="quick-1"):
        await execution.get_result()


async def test_a_retry_after_a_timeout_waits_again(docket: Docket):
    """Retry applies to a SignalTimeout: the retry waits for the signal again, and
    a signal sent then is received."""
    execution = await docket.add(retried, key="r-1")("1")
    first = (await docket.broker.mailbox.received("r-1"))["again-1"]

    async def send_when_waiting_again() -> None:
        while True:
            wait = (await docket.broker.mailbox.received("r-1"))["again-1"]
            if wait.waiting and wait.since != first.since:  # the retry's wait
                await docket.signal("again-1", "second time")
                return
            await asyncio.sleep(0.01)

    sender = asyncio.create_task(send_when_waiting_again())
    await run_until(docket, reaches(docket, "r-1", ExecutionState.COMPLETED))
    await asyncio.wait_for(sender, 5)
    assert ran == [("1", "second time")]
    await execution.sync()
    assert execution.state is ExecutionState.COMPLETED


async def test_a_template_naming_a_missing_argument_refuses_the_add(docket: Docket):
    """A template naming no argument of the call fails the add, nothing written."""
    docket.register(misnamed)
    with pytest.raises(ValueError, match="missing"):
        await docket.add(misnamed, key="m-1")("1")
    assert await docket.get_execution("m-1") is None


async def test_a_value_passed_by_the_caller_waits_for_nothing(docket: Docket):
    """Passing the Signal parameter's value explicitly runs the task at once."""
    execution = await docket.add(publish, key="given")("6", decision={"by": "hand"})
    assert execution.state is ExecutionState.QUEUED
    await run(docket)
    assert ran == [("6", {"by": "hand"})]


async def test_cancel_removes_the_waiter(docket: Docket):
    """A cancelled waiting task leaves the waiters: a later signal is kept."""
    await docket.add(publish, key="gone")("8")
    await docket.cancel("gone")
    assert await state(docket, "gone") is ExecutionState.CANCELLED
    assert await docket.signal("review-8", "late") is False


async def test_replace_opens_a_new_wait(docket: Docket):
    """Replacing a waiting task drops its wait and opens the replacement's."""
    await docket.add(publish, key="swap")("10")
    later = datetime.now(timezone.utc) + timedelta(milliseconds=10)
    await docket.replace(publish, when=later, key="swap")("11")
    assert await docket.broker.mailbox.waiters("review-10") == []
    assert await docket.broker.mailbox.waiters("review-11") == ["swap"]
    assert await docket.signal("review-11", "new") is True
    await run(docket)
    assert ran == [("11", "new")]


async def test_a_waiting_task_holds_no_slot(docket: Docket):
    """A concurrency-1 worker runs other tasks while one waits for a signal."""
    await docket.add(publish, key="holder")("12")
    for n in range(5):
        await docket.add(publish, key=f"free-{n}")(str(n), decision={"n": n})
    await run(docket)
    assert len(ran) == 5
    assert await state(docket, "holder") is ExecutionState.WAITING


async def test_clear_withdraws_waiting_tasks(docket: Docket):
    """``docket.clear()`` cancels a task waiting for a signal and takes it out of
    the waiters: a later signal is kept."""
    await docket.add(publish, key="cleared")("13")
    assert await docket.clear() >= 1
    assert await state(docket, "cleared") is ExecutionState.CANCELLED
    assert await docket.broker.mailbox.waiters("review-13") == []
    assert await docket.signal("review-13", "late") is False


async def test_a_signed_docket_runs_with_a_signed_payload(
    docket_url: str, docket_name: str
):
    """With signing keys, a payload sent by a docket holding them verifies and the
    task runs with it."""
    async with Docket(name=docket_name, url=docket_url, signing_keys=[KEY]) as signed:
        signed.register(publish)
        await signed.add(publish, key="signed")("14")
        assert await signed.signal("review-14", {"ok": 1}) is True
        await run(signed)
    assert ran == [("14", {"ok": 1})]


async def test_a_forged_payload_is_refused_logged_and_the_task_waits_again(
    docket_url: str, docket_name: str, caplog: pytest.LogCaptureFixture
):
    """A payload signed with other keys (a forgery, for this docket) does not
    release the task: the worker refuses it when the task would run (an ERROR line
    names the signal and the task), the task waits for the signal again, and the
    genuine signal sent then runs it once, with the genuine payload."""
    async with (
        Docket(name=docket_name, url=docket_url, signing_keys=[KEY]) as signed,
        Docket(name=docket_name, url=docket_url, signing_keys=[OTHER]) as forger,
    ):
        signed.register(publish)
        execution = await signed.add(publish, key="forged")("15")
        await forger.signal("review-15", {"approved": "forged"})
        with caplog.at_level(logging.ERROR, logger="docket.signals"):
            await run(signed)
        assert ran == []
        refusals = [r for r in caplog.records if r.name == "docket.signals"]
        assert refusals and "review-15" in refusals[0].getMessage()
        assert "forged" in refusals[0].getMessage()
        await execution.sync()
        assert execution.state is ExecutionState.WAITING
        assert await signed.broker.mailbox.waiters("review-15") == ["forged"]
        assert await signed.signal("review-15", {"approved": True}) is True
        await run(signed)
        assert ran == [("15", {"approved": True})]
        await execution.sync()
        assert execution.state is ExecutionState.COMPLETED


async def test_a_timeout_fires_within_a_second_of_its_time(docket: Docket):
    """With the worker's default settings, a task whose signal times out runs
    (with its default) less than a second after its deadline."""
    docket.register(lenient)
    execution = await docket.add(lenient, key="on-time")("16")
    (wait,) = (await docket.broker.mailbox.received("on-time")).values()
    assert wait.deadline is not None
    async with Worker(docket) as worker:
        running = asyncio.create_task(worker.run_forever())
        try:
            await eventually(reaches(docket, "on-time", ExecutionState.COMPLETED))
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
    await execution.sync()
    assert execution.started_at is not None
    late = execution.started_at.timestamp() - wait.deadline
    assert 0 <= late < 1.0, f"started {late:.3f}s after the deadline"


async def test_a_released_task_of_a_paused_type_is_held_until_resumed(
    docket: Docket,
):
    """Pausing applies when the signal releases the task: it is held (not run)
    while its type is paused, and runs once, with the payload, after resume."""
    await docket.add(publish, key="paused-one")("17")
    await docket.pause(publish)
    assert await docket.signal("review-17", "held") is True
    await run(docket)
    assert ran == []
    await docket.resume(publish)
    await run(docket)
    assert ran == [("17", "held")]


async def test_a_struck_task_released_by_its_signal_does_not_run(docket: Docket):
    """A strike in force when the signal releases the task keeps it from running,
    like any queued task."""
    await docket.add(publish, key="struck-one")("18")
    await docket.strike(publish)
    await eventually(lambda: "publish" in docket.strike_list.struck_functions)
    assert await docket.signal("review-18", "no") is True
    await run(docket)
    assert ran == []


async def test_a_virtual_clock_steps_to_a_timeout(docket: Docket):
    """Under the test helpers' virtual clock, advancing past a Signal's timeout
    (two days here) runs the task with its default, at once."""
    async with DocketRunner(docket) as runner:
        with VirtualClock(runner) as clock:
            execution = await docket.add(publish, key="virtual")("19")
            await clock.advance(timedelta(days=1))
            assert ran == []
            await clock.advance(timedelta(days=2))
    assert ran == [("19", None)]
    await execution.sync()
    assert execution.state is ExecutionState.COMPLETED


async def test_a_redis_blip_while_a_released_task_starts_does_not_fail_it(
    docket: Docket, monkeypatch: pytest.MonkeyPatch
):
    """Redis drops the connection as the released task reads what it received
    (a restart while it starts): the read is tried again, and the task runs once
    with its payload instead of failing (which lost it in a chaos run)."""
    from docket._broker.mailbox import MailboxStore

    await docket.add(publish, key="p-blip")("blip")
    assert await docket.signal("review-blip", {"approved": True}) is True
    pending = blip_once(monkeypatch, MailboxStore, "received")
    await run(docket)
    assert pending == []  # the blip happened
    assert ran == [("blip", {"approved": True})]
    assert await state(docket, "p-blip") is ExecutionState.COMPLETED


async def test_the_snapshot_api_says_which_signal_a_waiting_task_waits_for(
    docket: Docket,
):
    """``docket.snapshot().signals`` maps the key of a task waiting on a signal
    to each signal it waits for (name, since when, its timeout); a task waiting
    on nothing is not in it, and a released one leaves it."""
    before = datetime.now(timezone.utc).timestamp()
    await docket.add(publish, key="p-snap")("snap")
    snap = await docket.snapshot()
    assert [e.key for e in snap.waiting] == ["p-snap"]
    (wait,) = snap.signals["p-snap"]
    assert wait.name == "review-snap" and wait.waiting
    assert wait.since is not None and wait.since >= before - 1
    assert wait.deadline is not None and wait.deadline > before + 86_400
    assert list(snap.signals) == ["p-snap"]
    assert await docket.signal("review-snap", "ok") is True
    assert (await docket.snapshot()).signals == {}
