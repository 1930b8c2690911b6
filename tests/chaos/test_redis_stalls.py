"""Redis stalls as a whole for longer than the redelivery timeout, under load:
CLIENT PAUSE, and SIGSTOP of redis-server. When it answers again every lease
looks expired; the workers, which could not reach Redis either, renew their own
leases before they sweep, so the stall costs no duplicate: nothing lost, nothing
run twice, service back within the bar. The workers use ``socket_timeout=1``, so
their commands time out and reconnect throughout the stall."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

import pytest

from tests.chaos.profiles import Profile, timeout
from tests.chaos.scenario import Scenario
from tests.chaos.test_redis_faults import under_load

pytestmark = pytest.mark.timeout(timeout())


def stalled(profile: Profile) -> Profile:
    """The profile with the stall scenarios' (short) redelivery timeout."""
    return dataclasses.replace(profile, redelivery=profile.stall_redelivery)


async def test_client_pause_beyond_the_redelivery_timeout(
    profile: Profile, tmp_path: Path
) -> None:
    """CLIENT PAUSE ALL for ``stall_pause`` seconds, longer than the workers'
    redelivery timeout: no task is lost and none runs twice."""
    chosen = stalled(profile)
    assert chosen.stall_pause > chosen.redelivery

    async def pause(s: Scenario) -> tuple[float, float]:
        began = time.monotonic()
        milliseconds = int(chosen.stall_pause * 1000)
        await s.control.execute_command("CLIENT", "PAUSE", milliseconds, "ALL")
        await asyncio.sleep(chosen.stall_pause)  # the fault's duration
        return began, await s.back()

    async with Scenario(
        "stall-client-pause", chosen, tmp_path, url_options="socket_timeout=1"
    ) as s:
        s.verdict(await under_load(s, pause, stall=True))


async def test_sigstop_of_redis_beyond_the_redelivery_timeout(
    profile: Profile, tmp_path: Path
) -> None:
    """redis-server stopped (SIGSTOP) for ``stall_freeze`` seconds, longer than
    the workers' redelivery timeout, then continued: no task is lost and none
    runs twice."""
    chosen = stalled(profile)
    assert chosen.stall_freeze > chosen.redelivery

    async def freeze(s: Scenario) -> tuple[float, float]:
        return await s.freeze_server(chosen.stall_freeze)

    async with Scenario(
        "stall-sigstop", chosen, tmp_path, url_options="socket_timeout=1"
    ) as s:
        s.verdict(await under_load(s, freeze, stall=True))
