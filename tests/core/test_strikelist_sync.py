"""StrikeList with a URL: strikes travel through the P:strikes stream (memory://)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import cloudpickle  # type: ignore[import-untyped]
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from docket._redis import clear_memory_servers, open_backend
from docket.strikelist import Strike, StrikeList


async def eventually(condition: Callable[[], Any], timeout: float = 5.0) -> None:
    """Poll ``condition`` until it holds, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.01)


@pytest.fixture
async def url() -> AsyncIterator[str]:
    yield f"memory://strikes-{uuid.uuid4().hex[:8]}"
    clear_memory_servers()


@pytest.fixture
def name() -> str:
    return f"strikes-{uuid.uuid4().hex[:8]}"


async def test_strike_on_one_list_reaches_another(url: str, name: str) -> None:
    """Two lists on one URL and name share strikes and restores through the stream."""
    async with StrikeList(url, name) as sender, StrikeList(url, name) as receiver:
        await receiver.wait_for_strikes_loaded()
        await sender.strike("send_email", "customer_id", "==", 7)
        assert sender.task_strikes == {"send_email": {"customer_id": {("==", 7)}}}
        await eventually(lambda: bool(receiver.task_strikes))
        assert receiver.task_strikes == sender.task_strikes
        await sender.restore("send_email", "customer_id", "==", 7)
        await eventually(lambda: not receiver.task_strikes)


async def test_a_late_list_replays_the_whole_log(url: str, name: str) -> None:
    """A list entered later replays the stream from the start before it is loaded."""
    async with StrikeList(url, name) as sender:
        for value in range(250):
            await sender.strike(None, "n", "==", value)
        await sender.restore(None, "n", "==", 0)
        await sender.strike("whole_task")
        async with StrikeList(url, name) as late:
            await asyncio.wait_for(late.wait_for_strikes_loaded(), 5)
            assert late.parameter_strikes == sender.parameter_strikes
            assert len(late.parameter_strikes["n"]) == 249
            assert late.struck_functions == {"whole_task"}


async def test_lists_with_other_names_are_isolated(url: str, name: str) -> None:
    """Strikes under one docket name never reach a list following another name."""
    async with (
        StrikeList(url, name) as first,
        StrikeList(url, f"{name}-other") as second_sender,
        StrikeList(url, f"{name}-other") as second,
    ):
        await first.strike("only_first")
        await second_sender.strike("marker")
        await eventually(lambda: "marker" in second.struck_functions)
        assert "only_first" not in second.struck_functions


async def test_instructions_land_in_the_strike_stream(url: str, name: str) -> None:
    """Each instruction is one XADD on P:strikes with only the parts that are set."""
    async with StrikeList(url, name) as strikes:
        assert strikes.strike_key == f"{name}:strikes"
        await strikes.strike("f")
        await strikes.strike(None, "p", "between", (1, 2))
        async with open_backend(url) as backend:
            entries = await backend.client.xrange(strikes.strike_key)
    fields = [entry[1] for entry in entries]
    assert fields[0] == {
        b"direction": b"strike",
        b"function": b"f",
        b"operator": b"==",
        b"value": cloudpickle.dumps(None),
    }
    assert b"function" not in fields[1]
    assert cloudpickle.loads(fields[1][b"value"]) == (1, 2)


async def test_bad_entries_in_the_stream_are_skipped(
    url: str, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Unreadable or unhashable entries are logged and skipped; later ones apply."""
    async with open_backend(url) as backend:
        key = f"{name}:strikes"
        await backend.client.xadd(key, {b"direction": b"sideways"})
        unhashable = Strike(None, "tags", "==", ["a"]).as_message()
        await backend.client.xadd(key, unhashable)
        await backend.client.xadd(key, Strike("good", None, "==", None).as_message())
    with caplog.at_level(logging.INFO, logger="docket.strikelist"):
        async with StrikeList(url, name) as strikes:
            await strikes.wait_for_strikes_loaded()
            assert strikes.struck_functions == {"good"}
            assert strikes.parameter_strikes == {}
    assert "Skipping unreadable strike" in caplog.text
    assert "Incompatible type for strike condition: == ['a']" in caplog.text
    assert "Striking good(* == *)" in caplog.text


class FlakyClient:
    """Wraps a client so that its first ``failures`` XREADs lose the connection."""

    def __init__(self, client: Any, failures: int) -> None:
        self.client, self.failures = client, failures

    async def xread(self, *args: Any, **kwargs: Any) -> Any:
        if self.failures > 0:
            self.failures -= 1
            raise RedisConnectionError("connection lost")
        return await self.client.xread(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


async def test_monitor_reconnects_after_connection_errors(
    url: str, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A lost connection is told to the process's outage log (naming the URL),
    retried after a pause, and the replay resumes."""
    async with StrikeList(url, name) as sender:
        await sender.strike("before")
    with caplog.at_level(logging.WARNING, logger="docket.redis"):
        async with StrikeList(url, name) as strikes:
            assert strikes._broker is not None
            strikes._broker.client = FlakyClient(strikes._broker.client, 1)
            await asyncio.wait_for(strikes.wait_for_strikes_loaded(), 5)
            assert strikes.struck_functions == {"before"}
    assert "Failed to follow strikes: Redis at " in caplog.text


async def test_exit_interrupts_the_retry_pause(url: str, name: str) -> None:
    """Leaving the context stops a monitor that is waiting to reconnect, at once."""
    async with StrikeList(url, name) as strikes:
        assert strikes._broker is not None
        flaky = FlakyClient(strikes._broker.client, 1_000_000)
        strikes._broker.client = flaky
        await eventually(lambda: flaky.failures < 1_000_000)
        started = time.monotonic()
    assert time.monotonic() - started < 0.5


async def test_reentering_resumes_and_keeps_local_state(url: str, name: str) -> None:
    """State survives exit; a second entry replays the log again without harm."""
    strikes = StrikeList(url, name)
    async with strikes:
        await strikes.strike("f")
        with pytest.raises(AssertionError, match="StrikeList is not reentrant"):
            await strikes.__aenter__()
    assert strikes.struck_functions == {"f"}
    with pytest.raises(RuntimeError, match="not connected to Redis"):
        await strikes.strike("g")
    await strikes.wait_for_strikes_loaded()  # not entered: nothing to wait for
    async with strikes:
        await strikes.wait_for_strikes_loaded()
        await strikes.restore("f")
        assert strikes.struck_functions == set()
