"""``Suspend.for_signal``: wait in the middle of a task for ``docket.signal``.
The attempt ends, the key waits WAITING without a slot, and the task runs again
from the top when the signal comes; the call then returns its payload."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from docket import (
    Checkpoint,
    Docket,
    ExecutionState,
    Retry,
    Suspend,
)
from docket._codec import UnverifiedPayload
from docket._errors import SignalTimeout
from tests._support.waits import (
    blip_once,
    checkpoint_kept,
    reaches,
    run,
    run_until,
    state,
)
from tests.behaviours.test_keyspace_ttl import assert_every_key_expires

log: list[str] = []


async def onboard(
    user: str,
    suspend: Suspend = Suspend(),
    steps: Checkpoint = Checkpoint(),
    retry: Retry = Retry(attempts=2),
) -> str:
    if not await steps.done("welcome"):
        log.append(f"welcome {user}")
        await steps.mark("welcome")
    log.append("top")
    code = await suspend.for_signal(f"verified-{user}", timeout=timedelta(days=7))
    log.append(f"verified with {code}")
    return f"activated {user} with {code}"


@pytest.fixture(autouse=True)
def _tasks(docket: Docket) -> None:
    log.clear()
    docket.register(onboard)


@pytest.mark.cluster_ok
async def test_the_task_resumes_with_the_payload_without_repeating_steps(
    docket: Docket,
):
    """The task suspends WAITING; the signal releases it (True), it runs again
    from the top, the marked step is not repeated, and for_signal returns the
    payload."""
    execution = await docket.add(onboard, key="onboard-ada")("ada")
    await run_until(docket, lambda: log == ["welcome ada", "top"])
    assert await state(docket, "onboard-ada") is ExecutionState.WAITING
    assert await docket.signal("verified-ada", {"code": 42}) is True
    await run(docket)
    assert log == ["welcome ada", "top", "top", "verified with {'code': 42}"]
    assert await execution.get_result() == "activated ada with {'code': 42}"
    assert not await checkpoint_kept(docket, "onboard-ada")
    await assert_every_key_expires(docket)


async def test_a_signal_sent_before_the_wait_returns_at_once(docket: Docket):
    """A signal kept before the task reached for_signal is taken at once: the
    task does not suspend at all."""
    assert await docket.signal("verified-bob", "early") is False
    execution = await docket.add(onboard, key="onboard-bob")("bob")
    await run(docket)
    assert log == ["welcome bob", "top", "verified with early"]
    assert await execution.get_result() == "activated bob with early"


async def test_a_satisfied_signal_point_returns_its_payload_on_a_retry(
    docket: Docket,
):
    """After the signal, a failure and its retry: the retry does not wait again,
    for_signal returns the remembered payload whatever name it is given."""

    async def flaky(
        suspend: Suspend = Suspend(), retry: Retry = Retry(attempts=2)
    ) -> str:
        name = "go" if retry.attempt == 1 else "another-name"
        payload = await suspend.for_signal(name)
        log.append(f"{payload}#{retry.attempt}")
        if retry.attempt == 1:
            raise RuntimeError("fails once after the signal")
        return payload

    docket.register(flaky)
    execution = await docket.add(flaky, key="flaky")()
    await run_until(docket, reaches(docket, "flaky", ExecutionState.WAITING))
    assert await docket.signal("go", "payload") is True
    await run(docket)
    assert log == ["payload#1", "payload#2"]
    assert await execution.get_result() == "payload"


async def test_two_points_wait_for_the_same_name_one_after_the_other(
    docket: Docket,
):
    """Two for_signal calls of one run on the same name each take their own
    signal: the second waits again after the first was received."""

    async def twice(suspend: Suspend = Suspend()) -> list[str]:
        first = await suspend.for_signal("step")
        second = await suspend.for_signal("step")
        return [first, second]

    docket.register(twice)
    execution = await docket.add(twice, key="twice")()
    await run_until(docket, reaches(docket, "twice", ExecutionState.WAITING))
    assert await docket.signal("step", "one") is True
    await run_until(docket, reaches(docket, "twice", ExecutionState.WAITING))
    assert await docket.signal("step", "two") is True
    await run(docket)
    assert await execution.get_result() == ["one", "two"]


async def test_a_wait_that_times_out_raises_signal_timeout(docket: Docket):
    """Without the signal, the timeout resumes the task (within about a second)
    and for_signal raises SignalTimeout there; the task can catch it."""

    async def impatient(suspend: Suspend = Suspend()) -> str:
        try:
            await suspend.for_signal("never", timeout=timedelta(milliseconds=300))
        except SignalTimeout as error:
            return f"gave up: {error}"
        return "came"

    docket.register(impatient)
    execution = await docket.add(impatient, key="impatient")()
    started = datetime.now(timezone.utc)
    await run_until(docket, reaches(docket, "impatient", ExecutionState.COMPLETED))
    result = await execution.get_result()
    assert result.startswith("gave up: task") and "'never'" in result
    assert datetime.now(timezone.utc) - started < timedelta(seconds=3)


async def test_a_timed_out_wait_waits_again_on_the_retry(docket: Docket):
    """A SignalTimeout that fails the attempt is retried like any failure, and
    the retry waits for the signal again."""

    async def retried(
        suspend: Suspend = Suspend(), retry: Retry = Retry(attempts=2)
    ) -> str:
        log.append(f"top#{retry.attempt}")
        timeout = timedelta(milliseconds=200 if retry.attempt == 1 else 60_000)
        return await suspend.for_signal("late", timeout=timeout)

    async def _waiting_on_the_retry(docket: Docket) -> bool:
        return (
            "top#2" in log and await state(docket, "retried") is ExecutionState.WAITING
        )

    docket.register(retried)
    execution = await docket.add(retried, key="retried")()
    await run_until(docket, lambda: _waiting_on_the_retry(docket))
    assert await docket.signal("late", "finally") is True
    await run(docket)
    assert await execution.get_result() == "finally"


async def test_cancelling_a_task_waiting_on_a_signal(docket: Docket):
    """A task suspended on a signal can be cancelled: its checkpoint goes, and a
    later signal is kept (nobody waits for it any more)."""
    await docket.add(onboard, key="onboard-cy")("cy")
    await run_until(docket, lambda: log == ["welcome cy", "top"])
    await docket.cancel("onboard-cy")
    assert await state(docket, "onboard-cy") is ExecutionState.CANCELLED
    assert not await checkpoint_kept(docket, "onboard-cy")
    assert await docket.signal("verified-cy", 1) is False


async def test_a_forged_payload_is_refused(docket_url: str, docket_name: str):
    """On a signing docket a payload that does not verify is refused in the task
    with UnverifiedPayload naming the signal."""
    seen: list[BaseException] = []
    key = b"s" * 32
    async with Docket(name=docket_name, url=docket_url, signing_keys=[key]) as docket:

        async def guarded(suspend: Suspend = Suspend()) -> None:
            try:
                await suspend.for_signal("forged")
            except UnverifiedPayload as error:
                seen.append(error)

        docket.register(guarded)
        async with Docket(name=docket_name, url=docket_url) as unsigned:
            await unsigned.signal("forged", "evil")  # kept, unsigned
        await docket.add(guarded)()
        await run(docket)
    assert seen and "Signal 'forged'" in str(seen[0])


async def test_bad_names_and_timeouts_are_refused(docket: Docket):
    """An empty name, one that is not valid text, or a timeout that is not a
    positive timedelta raises a ValueError in the task that says so (the same
    words as docket.signal's for the names)."""
    errors: list[str] = []

    async def bad(suspend: Suspend = Suspend()) -> None:
        for name, timeout in (("", None), ("\udc80", None), ("x", timedelta(0))):
            try:
                await suspend.for_signal(name, timeout=timeout)
            except ValueError as error:
                errors.append(str(error))

    docket.register(bad)
    await docket.add(bad)()
    await run(docket)
    assert errors == [
        "A signal needs a non-empty name, got ''",
        "Signal name '\\udc80' is not valid text",
        "for_signal's timeout is a positive timedelta, not datetime.timedelta(0)",
    ]
    for name in ("", "\udc80"):
        with pytest.raises(ValueError) as refused:
            await docket.signal(name)
        assert str(refused.value) == errors[0 if not name else 1]


async def test_replacing_a_task_waiting_on_a_signal_starts_a_new_run(
    docket: Docket,
):
    """A replace of a task suspended on a signal withdraws its wait (a later
    signal is kept: nobody waits) and starts a new run with an empty checkpoint:
    its welcome step runs again, and it waits for its own signal anew."""
    await docket.add(onboard, key="onboard-di")("di")
    await run_until(docket, lambda: log == ["welcome di", "top"])
    await docket.replace(onboard, datetime.now(timezone.utc), "onboard-di")("dee")
    await run_until(docket, lambda: log == ["welcome di", "top", "welcome dee", "top"])
    assert await docket.signal("verified-di", 1) is False
    assert await docket.signal("verified-dee", 2) is True
    await run(docket)
    execution = await docket.get_execution("onboard-di")
    assert execution is not None
    assert await execution.get_result() == "activated dee with 2"


async def test_a_struck_task_resumed_by_its_signal_ends_without_its_checkpoint(
    docket: Docket,
):
    """A task type struck while one of its tasks waits on a signal: the signal
    resumes it, the strike stops it at intake, and its checkpoint goes."""
    await docket.add(onboard, key="onboard-ed")("ed")
    await run_until(docket, lambda: log == ["welcome ed", "top"])
    await docket.strike(onboard)
    assert await docket.signal("verified-ed", 3) is True
    await run(docket)
    assert log == ["welcome ed", "top"]
    assert not await checkpoint_kept(docket, "onboard-ed")


@pytest.mark.parametrize(
    ("store", "method"),
    [
        ("steps", "read"),  # the checkpoint, read as each attempt starts
        ("steps", "write"),  # steps.mark
        ("steps", "take"),  # for_signal looks for a kept signal
        ("mailbox", "received"),  # the resumed attempt reads what came
    ],
)
async def test_a_redis_blip_as_an_attempt_starts_or_resumes_does_not_fail_it(
    docket: Docket,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    store: str,
    method: str,
):
    """Redis drops the connection on one of the calls an attempt of a Suspend /
    Checkpoint task makes (a restart while it starts or resumes): the call is
    tried again, and the task completes once with its payload, its marked step
    done once, instead of failing."""
    from docket._broker.mailbox import MailboxStore
    from docket._broker.steps import StepStore

    stores = {"steps": StepStore, "mailbox": MailboxStore}
    pending = blip_once(monkeypatch, stores[store], method)
    execution = await docket.add(onboard, key="onboard-blip")("blip")
    await run_until(docket, lambda: log == ["welcome blip", "top"])
    assert await docket.signal("verified-blip", 7) is True
    await run(docket)
    assert pending == []  # the blip happened
    assert log == ["welcome blip", "top", "top", "verified with 7"]
    assert await execution.get_result() == "activated blip with 7"
    assert "failed" not in caplog.text  # not failed and retried
