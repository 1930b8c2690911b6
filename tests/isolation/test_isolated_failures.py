"""Isolated tasks that misbehave: each fails its own run, and the worker goes on."""

from __future__ import annotations

import asyncio
import os
import signal
import time

from docket import Docket, Worker
from tests._support import isolated_tasks as t
from tests.conftest import eventually
from tests.isolation.conftest import alive, outcome


async def ready(worker: Worker, children: int = 2) -> None:
    """Wait until the worker's pools have ``children`` children ready (they
    start with the worker's first session)."""
    run = asyncio.ensure_future(worker.run_until_finished())
    await eventually(
        lambda: worker.isolation is not None and worker.isolation.alive >= children,
        timeout=60,
    )
    await run


async def test_a_timeout_kills_a_body_that_never_yields(
    docket: Docket, isolated_worker: Worker
) -> None:
    """`while True: pass` under a 1 s Timeout ends within 2 s as a TimeoutError,
    its child is killed and replaced, and a plain task still runs meanwhile."""
    await ready(isolated_worker)
    spinning = await docket.add(t.spin)()
    plain = await docket.add(t.plain_noop)()
    started = time.monotonic()
    await isolated_worker.run_until_finished()
    assert time.monotonic() - started < 2
    state, error = await outcome(spinning)
    assert state == "failed" and isinstance(error, TimeoutError)
    assert "exceeded timeout of 1.0s" in str(error)
    assert (await outcome(plain))[0] == "completed"
    pools = isolated_worker.isolation
    assert pools.timeouts == 1 and pools.restarts.get("timeout") == 1
    await eventually(lambda: pools.alive == 2)  # replaced (default + heavy)


async def test_a_timed_out_async_body_is_retried_in_a_new_child(
    docket: Docket, isolated_worker: Worker
) -> None:
    """Retry applies to an attempt the Timeout killed: both attempts time out."""
    execution = await docket.add(t.spin_async)()
    await isolated_worker.run_until_finished()
    state, error = await outcome(execution)
    assert state == "failed" and isinstance(error, TimeoutError)
    assert isolated_worker.isolation.timeouts == 2  # both attempts


async def test_a_child_that_exits_fails_only_its_own_run(
    docket: Docket, isolated_worker: Worker
) -> None:
    """os._exit(3) in the body fails that run at once, naming the exit code; the
    next isolated task runs in a new child."""
    dying = await docket.add(t.exits)()
    await isolated_worker.run_until_finished()
    after = await docket.add(t.add)(1, 1)
    await isolated_worker.run_until_finished()
    state, error = await outcome(dying)
    assert state == "failed" and "exited with code 3" in str(error)
    assert await outcome(after) == ("completed", 2)
    assert isolated_worker.isolation.restarts.get("exit") == 1


async def test_a_segfault_fails_only_its_own_run(
    docket: Docket, isolated_worker: Worker
) -> None:
    """A null pointer read in the body kills the child with SIGSEGV; the run
    fails naming the signal."""
    crashing = await docket.add(t.segfaults)()
    await isolated_worker.run_until_finished()
    state, error = await outcome(crashing)
    assert state == "failed" and "killed by SIGSEGV" in str(error)


async def test_retry_applies_to_a_child_that_dies(
    docket: Docket, isolated_worker: Worker
) -> None:
    """A body that keeps killing its child is tried as often as its Retry says,
    each attempt failing at once (not through redelivery), then fails."""
    execution = await docket.add(t.exits_with_retry)()
    started = time.monotonic()
    await isolated_worker.run_until_finished()
    state, error = await outcome(execution)
    assert state == "failed" and "exited with code 3" in str(error)
    assert isolated_worker.isolation.restarts.get("exit") == 3  # every attempt
    assert (
        time.monotonic() - started < isolated_worker.redelivery_timeout.total_seconds()
    )


async def test_a_resident_memory_limit_kills_the_child(
    docket: Docket, isolated_worker: Worker
) -> None:
    """A body whose resident memory passes its memory_limit is killed; the run
    fails saying the memory limit was exceeded."""
    execution = await docket.add(t.hogs_memory)(400)
    await isolated_worker.run_until_finished()
    state, error = await outcome(execution)
    assert state == "failed" and "memory limit" in str(error)
    assert isolated_worker.isolation.restarts.get("memory") == 1


async def test_an_allocation_past_the_memory_limit_is_reported_as_such(
    docket: Docket, isolated_worker: Worker
) -> None:
    """One allocation larger than the limit fails at once (MemoryError) and is
    reported as the memory limit; the child is replaced."""
    execution = await docket.add(t.reserves_memory)()
    await isolated_worker.run_until_finished()
    state, error = await outcome(execution)
    assert state == "failed" and "memory limit" in str(error)
    assert "MemoryError" in str(error)


async def test_cancelling_a_running_isolated_task_kills_its_child(
    docket: Docket, isolated_worker: Worker
) -> None:
    """docket.cancel() of a running isolated task kills the child running it;
    the run ends cancelled."""
    execution = await docket.add(t.sleeps, key="long-sleep")(60)
    run = asyncio.ensure_future(isolated_worker.run_until_finished())
    try:

        def busy() -> set[int]:
            pools = isolated_worker.isolation
            if pools is None or "default" not in pools.pools:
                return set()
            children = pools.pools["default"].children
            return {c.pid for c in children if c.answer is not None}

        (pid,) = await eventually(busy, timeout=30)  # the child may be starting
        await docket.cancel("long-sleep")
        await asyncio.wait_for(run, 10)
    finally:
        run.cancel()
    assert (await outcome(execution))[0] == "cancelled"
    await eventually(lambda: not alive(pid))  # killed (the kill lands at once)


async def test_children_are_reused_up_to_max_tasks_per_child(docket: Docket) -> None:
    """With max_tasks_per_child=2, two calls share a child and the third runs
    in its replacement."""
    docket.register(t.sync_pid)
    async with Worker(
        docket, concurrency=1, isolated_processes=1, max_tasks_per_child=2
    ) as worker:
        runs = []
        for _ in range(3):
            runs.append(await docket.add(t.sync_pid)())
            await worker.run_until_finished()
        pids = [(await outcome(run))[1] for run in runs]
        assert pids[0] == pids[1] != pids[2]
        assert worker.isolation.restarts.get("max_tasks") == 1


async def test_a_signing_docket_signs_what_crosses_to_the_child(
    docket_url: str, docket_name: str
) -> None:
    """With signing keys, the call and its answer are signed with the child's
    own key (a frame signed otherwise is refused), and the task runs."""
    from docket._worker.isolation import wire

    async with Docket(
        name=docket_name, url=docket_url, signing_keys=["k" * 32]
    ) as docket:
        docket.register(t.add)
        async with Worker(docket, isolated_processes=1) as worker:
            execution = await docket.add(t.add)(20, 22)
            await worker.run_until_finished()
            assert await outcome(execution) == ("completed", 42)
            (child,) = worker.isolation.pools["default"].children
            assert child.key is not None
            forged = wire.pipe_codec(b"x" * 32, docket.name)
            frame = wire.seal(forged, wire.RUN, print, (), {}, {})
            try:
                wire.unseal(child.codec, wire.RUN, frame[5:])
            except ValueError as error:
                assert "signature" in str(error)
            else:  # pragma: no cover
                raise AssertionError("a forged frame was accepted")


async def test_the_worker_stays_healthy_while_a_pool_is_replenished(
    docket: Docket, isolated_worker: Worker
) -> None:
    """While a dead child is replaced, the worker's health check stays green."""
    run = asyncio.ensure_future(isolated_worker.run_forever())
    try:
        await eventually(isolated_worker.is_healthy, timeout=30)
        pools = await eventually(lambda: isolated_worker.isolation, timeout=30)
        await eventually(lambda: pools.alive == 2, timeout=30)
        await docket.add(t.exits)()
        seen: list[bool] = []
        await eventually(lambda: pools.restarts.get("exit") == 1, timeout=30)
        while pools.alive < 2:
            seen.append(isolated_worker.is_healthy())
            await asyncio.sleep(0.01)
        assert seen and all(seen)
    finally:
        isolated_worker.stop()
        await asyncio.wait_for(run, 30)


async def test_a_forced_stop_kills_busy_children(
    docket: Docket, isolated_worker: Worker
) -> None:
    """stop(graceful=False) while an isolated task sleeps: its child is killed
    at once and the worker's run ends without waiting for the body."""
    await docket.add(t.sleeps)(60)
    run = asyncio.ensure_future(isolated_worker.run_forever())

    def busy() -> set[int]:
        pools = isolated_worker.isolation
        if pools is None or "default" not in pools.pools:
            return set()
        return {c.pid for c in pools.pools["default"].children if c.answer}

    (pid,) = await eventually(busy, timeout=60)
    started = time.monotonic()
    isolated_worker.stop(graceful=False)
    try:
        await asyncio.wait_for(run, 10)
    except asyncio.CancelledError:
        pass
    assert time.monotonic() - started < 10
    await eventually(lambda: not alive(pid))


async def test_a_child_killed_while_idle_is_replaced(
    docket: Docket, isolated_worker: Worker
) -> None:
    """A child killed from outside while it waits for work (the OOM killer's
    way) is counted by its signal and replaced; the next task runs."""
    await ready(isolated_worker)
    pools = isolated_worker.isolation
    (victim,) = pools.pools["default"].children
    os.kill(victim.pid, signal.SIGKILL)
    await eventually(lambda: pools.restarts.get("signal") == 1, timeout=10)
    execution = await docket.add(t.add)(3, 4)
    await isolated_worker.run_until_finished()
    assert await outcome(execution) == ("completed", 7)
    assert victim.pid not in {c.pid for c in pools.pools["default"].children}
