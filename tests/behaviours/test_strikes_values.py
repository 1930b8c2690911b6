"""Strike values and StrikeList usage as pydocket code meets them: values that
cannot be hashed or compared, entering twice, using a list before connecting, and
memory:// without its engine."""

from __future__ import annotations

import builtins
import logging
import sys
from typing import Any

import pytest

from docket import Docket, ExecutionState, StrikeList, Worker


async def tag(labels: Any, score: Any = 0) -> Any:
    return labels


@pytest.mark.parametrize("value", [{"vip": True}, ["a", "b"], {1, 2}])
async def test_unhashable_strike_values_are_accepted_and_never_match(
    docket: Docket, worker: Worker, caplog: pytest.LogCaptureFixture, value: Any
):
    """Striking with a dict, list or set value does not raise; the strike is logged
    as incompatible and matches no execution, not even an equal argument."""
    with caplog.at_level(logging.WARNING, logger="docket.strikelist"):
        await docket.strike(tag, "labels", "==", value)
        await docket.restore(tag, "labels", "==", value)
        await docket.strike(tag, "labels", "==", value)
    assert "Incompatible type for strike condition" in caplog.text
    execution = await docket.add(tag)(value)
    await worker.run_until_finished()
    assert await execution.get_result() == value
    async with docket.redis() as client:
        assert await client.xlen(docket.strike_list.strike_key) == 3  # all recorded


async def test_incomparable_arguments_never_match(
    docket: Docket, worker: Worker, caplog: pytest.LogCaptureFixture
):
    """A strike ``score > 10`` or between bounds of mixed types never matches an
    argument it cannot be compared with; comparable arguments are still struck."""
    await docket.strike(tag, "score", ">", 10)
    await docket.strike(tag, "labels", "between", (1, "z"))
    struck = await docket.add(tag)("x", score=11)
    fine = await docket.add(tag)("y", score="not a number")
    await worker.run_until_finished()
    assert struck.state is not ExecutionState.COMPLETED
    assert await fine.get_result() == "y"
    assert "Incompatible type for strike condition" in caplog.text


async def test_a_connected_strike_list_cannot_be_entered_twice(docket_url: str):
    """Entering a URL StrikeList that is already entered raises pydocket's error."""
    strikes = StrikeList(url=docket_url, name="twice")
    async with strikes:
        with pytest.raises(AssertionError, match="StrikeList is not reentrant"):
            await strikes.__aenter__()
        await strikes.strike("f")  # still usable


async def test_using_a_strike_list_before_connecting_says_so(docket_url: str):
    """Striking through a URL list that was never entered raises RuntimeError saying
    it is not connected to Redis; waiting for strikes returns at once."""
    strikes = StrikeList(url=docket_url, name="early")
    with pytest.raises(RuntimeError, match="not connected to Redis"):
        await strikes.strike("f")
    await strikes.wait_for_strikes_loaded()
    assert strikes.struck_functions == frozenset()


async def test_memory_urls_without_burner_redis_raise_import_error(
    monkeypatch: pytest.MonkeyPatch,
):
    """Without the burner-redis package, a memory:// StrikeList or Docket raises
    ImportError naming the package when entered."""
    real_import = builtins.__import__

    def without_burner(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "burner_redis" or name.startswith("burner_redis."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "burner_redis", raising=False)
    monkeypatch.setattr(builtins, "__import__", without_burner)
    with pytest.raises(
        ImportError, match="burner-redis.*burner_redis|burner_redis.*burner-redis"
    ):
        async with StrikeList(url="memory://no-engine", name="s"):
            pass
    with pytest.raises(ImportError, match="burner-redis"):
        async with Docket(name="d", url="memory://no-engine-docket"):
            pass
