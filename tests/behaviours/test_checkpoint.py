"""``Checkpoint``: a per-run store of marks and values that survives the attempts
of one run (retries, suspensions) and is gone when the run ends."""

from __future__ import annotations

import pytest

from docket import Checkpoint, Docket, Isolated, Retry, Suspend
from docket._codec import UnverifiedPayload
from tests._support.waits import checkpoint_kept, run

log: list[str] = []


async def three_steps(
    name: str,
    steps: Checkpoint = Checkpoint(),
    retry: Retry = Retry(attempts=3),
) -> str:
    for step in ("one", "two", "three"):
        if not await steps.done(step):
            log.append(f"{step}#{retry.attempt}")
            if step == "two" and retry.attempt == 1:
                raise RuntimeError("two broke once")
            await steps.mark(step)
    return name


async def keeps_values(
    steps: Checkpoint = Checkpoint(), retry: Retry = Retry(attempts=2)
) -> dict[str, object]:
    if retry.attempt == 1:
        assert await steps.get("order") is None
        assert await steps.get("order", "none") == "none"
        await steps.set("order", {"id": 7, "items": ["a", "b"]})
        raise RuntimeError("once")
    return await steps.get("order")


@pytest.fixture(autouse=True)
def _tasks(docket: Docket) -> None:
    log.clear()
    for task in (three_steps, keeps_values):
        docket.register(task)


@pytest.mark.cluster_ok
async def test_a_marked_step_is_skipped_on_the_retry(docket: Docket):
    """A step marked in the first attempt is not run again by the retry; the step
    that failed before its mark runs again (at least once between marks)."""
    execution = await docket.add(three_steps, key="order-1")("x")
    await run(docket)
    assert log == ["one#1", "two#1", "two#2", "three#2"]
    assert await execution.get_result() == "x"


async def test_a_value_set_in_one_attempt_is_read_in_the_next(docket: Docket):
    """``set`` keeps a value (through the docket's codec) for the later attempts of
    the run; ``get`` returns the default for a name never set."""
    execution = await docket.add(keeps_values, key="values")()
    await run(docket)
    assert await execution.get_result() == {"id": 7, "items": ["a", "b"]}


async def test_the_checkpoint_goes_when_the_run_ends(docket: Docket):
    """Once the run completed its checkpoint is deleted, and a new run of the same
    key starts with none: every step runs again."""
    await docket.add(three_steps, key="again")("x")
    await run(docket)
    assert not await checkpoint_kept(docket, "again")
    log.clear()
    await docket.add(three_steps, key="again")("y")
    await run(docket)
    assert log == ["one#1", "two#1", "two#2", "three#2"]


async def test_a_failed_run_leaves_no_checkpoint(docket: Docket):
    """A run that fails for good (retries exhausted) drops its checkpoint too."""

    async def always_fails(steps: Checkpoint = Checkpoint()) -> None:
        await steps.mark("tried")
        raise RuntimeError("no")

    docket.register(always_fails)
    await docket.add(always_fails, key="fails")()
    await run(docket)
    assert not await checkpoint_kept(docket, "fails")


async def test_names_must_be_non_empty_strings(docket: Docket):
    """A checkpoint name that is not a non-empty string is refused clearly."""
    seen: list[str] = []

    async def bad_name(steps: Checkpoint = Checkpoint()) -> None:
        try:
            await steps.mark("")
        except ValueError as error:
            seen.append(str(error))

    docket.register(bad_name)
    await docket.add(bad_name)()
    await run(docket)
    assert seen and "non-empty string" in seen[0]


async def test_outside_a_worker_it_says_so():
    """The default instance, used outside a worker's run, raises a clear error
    naming itself (Checkpoint or Suspend)."""
    outside = "only usable inside a task run by a docket worker"
    with pytest.raises(RuntimeError, match=f"^Checkpoint is {outside}"):
        await Checkpoint().done("x")
    with pytest.raises(RuntimeError, match=f"^Suspend is {outside}"):
        await Suspend().for_signal("x")


async def test_isolated_tasks_refuse_checkpoint_and_suspend(docket: Docket):
    """Checkpoint and Suspend cannot be combined with Isolated: registration says
    so instead of failing at run time."""

    async def isolated_steps(
        steps: Checkpoint = Checkpoint(), isolated: Isolated = Isolated()
    ) -> None: ...

    async def isolated_suspend(
        suspend: Suspend = Suspend(), isolated: Isolated = Isolated()
    ) -> None: ...

    for task in (isolated_steps, isolated_suspend):
        with pytest.raises(TypeError, match="cannot be combined"):
            docket.register(task)


async def test_a_task_takes_one_checkpoint_and_one_suspend(docket: Docket):
    """A task with two Checkpoint or two Suspend parameters is refused at
    registration (both share one run's checkpoint view: one of each per task)."""

    async def two_checkpoints(
        a: Checkpoint = Checkpoint(), b: Checkpoint = Checkpoint()
    ) -> None: ...

    async def two_suspends(a: Suspend = Suspend(), b: Suspend = Suspend()) -> None: ...

    for task, name in ((two_checkpoints, "Checkpoint"), (two_suspends, "Suspend")):
        with pytest.raises(ValueError, match=f"Only one {name} dependency"):
            docket.register(task)


async def test_a_tampered_value_is_refused(docket_url: str, docket_name: str):
    """On a signing docket a checkpoint value changed in Redis is refused with
    UnverifiedPayload, naming the value and the task."""
    seen: list[BaseException] = []
    key = b"k" * 32
    async with Docket(name=docket_name, url=docket_url, signing_keys=[key]) as docket:

        async def tampered(
            steps: Checkpoint = Checkpoint(), retry: Retry = Retry(attempts=2)
        ) -> None:
            if retry.attempt == 1:
                await steps.set("amount", 10)
                async with docket.redis() as client:  # someone changes it in Redis
                    where = docket.keyspace.steps("t")
                    raw = await client.hget(where, "v:amount")
                    await client.hset(where, "v:amount", raw[:-2] + b"X.")
                raise RuntimeError("once")
            try:
                await steps.get("amount")
            except UnverifiedPayload as error:
                seen.append(error)

        docket.register(tampered)
        await docket.add(tampered, key="t")()
        await run(docket)
    assert seen and "checkpoint value 'amount' of task 't'" in str(seen[0])
