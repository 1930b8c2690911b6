"""StrikeList without a URL: local rules, matching, validation and representations."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cloudpickle  # type: ignore[import-untyped]
import pytest

from docket.strikelist import (
    Operator,
    Restore,
    Strike,
    StrikeInstruction,
    StrikeList,
)


async def send_email(customer_id: int, region: str = "us", **extra: Any) -> None:
    """A task with a default and extra keyword arguments."""


async def other_task(customer_id: int) -> None:
    """A second task sharing the customer_id parameter."""


@dataclass
class FakeExecution:
    function: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    function_name: str = ""

    def __post_init__(self) -> None:
        self.function_name = self.function_name or self.function.__name__


def call(*args: Any, **kwargs: Any) -> FakeExecution:
    return FakeExecution(send_email, args, kwargs)


@pytest.mark.parametrize(
    ("operator", "value", "stricken", "spared"),
    [
        ("==", 5, 5, 6),
        ("!=", 5, 6, 5),
        (">", 5, 6, 5),
        (">=", 5, 5, 4),
        ("<", 5, 4, 5),
        ("<=", 5, 5, 6),
        ("between", (3, 5), 3, 6),
        ("between", (3, 5), 5, 2),
        ("between", (3, 5), 4, 2),
    ],
)
async def test_every_operator_matches_argument_op_value(
    operator: Any, value: Any, stricken: int, spared: int
) -> None:
    """Each operator compares `argument <op> value`; between is inclusive on both ends."""
    strikes = StrikeList()
    await strikes.strike(send_email, "customer_id", operator, value)
    assert strikes.is_stricken(call(stricken))
    assert not strikes.is_stricken(call(spared))


async def test_incompatible_types_do_not_match_and_warn(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A comparison that raises TypeError is no match, logged as incompatible."""
    strikes = StrikeList()
    await strikes.strike(send_email, "customer_id", ">", 5)
    await strikes.strike(send_email, "region", "between", (1, 9))
    with caplog.at_level(logging.WARNING, logger="docket.strikelist"):
        assert not strikes.is_stricken(call("not-a-number"))
    assert "Incompatible type for strike condition: > 5" in caplog.text
    assert "Incompatible type for strike condition: between (1, 9)" in caplog.text


async def test_whole_function_strike_and_restore() -> None:
    """A function-only strike stops every call of that task and no other."""
    strikes = StrikeList()
    await strikes.strike("send_email")
    assert strikes.is_stricken(call(1))
    assert not strikes.is_stricken(FakeExecution(other_task, (1,)))
    assert strikes.task_strikes == {"send_email": {}}
    await strikes.restore(send_email)
    assert not strikes.is_stricken(call(1))
    assert strikes.task_strikes == {}


async def test_struck_by_registered_alias_name() -> None:
    """Matching uses the execution's function_name, which may be an alias."""
    strikes = StrikeList()
    await strikes.strike("alias")
    assert strikes.is_stricken(FakeExecution(send_email, (1,), function_name="alias"))
    assert not strikes.is_stricken(call(1))


async def test_parameter_strikes_are_per_task_or_global() -> None:
    """A task's parameter strike spares other tasks; a global one hits all of them."""
    strikes = StrikeList()
    await strikes.strike(send_email, "customer_id", "==", 1)
    assert strikes.is_stricken(call(1))
    assert not strikes.is_stricken(FakeExecution(other_task, (1,)))
    await strikes.strike(None, "customer_id", "==", 2)
    assert strikes.is_stricken(FakeExecution(other_task, (2,)))
    assert strikes.is_stricken(call(customer_id=2))
    assert strikes.parameter_strikes == {"customer_id": {(Operator.EQUAL, 2)}}


async def test_defaults_and_extra_keywords_are_matched() -> None:
    """Arguments are bound with defaults applied, and **kwargs extras count too."""
    strikes = StrikeList()
    await strikes.strike(send_email, "region", "==", "us")
    await strikes.strike(None, "campaign", "==", "spam")
    assert strikes.is_stricken(call(1))
    assert not strikes.is_stricken(call(1, "eu"))
    assert strikes.is_stricken(call(1, "eu", campaign="spam"))


async def test_unbindable_arguments_are_not_stricken() -> None:
    """When the arguments do not fit the signature, the execution is not stricken."""
    strikes = StrikeList()
    await strikes.strike(send_email, "customer_id", "==", 1)
    assert not strikes.is_stricken(call(1, "eu", "too", "many"))


async def test_mapping_targets_only_see_parameter_strikes() -> None:
    """A plain mapping is checked against the global parameter strikes only."""
    strikes = StrikeList()
    await strikes.strike(send_email)
    await strikes.strike(send_email, "customer_id", "==", 1)
    assert not strikes.is_stricken({"customer_id": 1})
    await strikes.strike(None, "customer_id", ">=", 10)
    assert strikes.is_stricken({"customer_id": 11, "other": "x"})
    assert not strikes.is_stricken({"customer_id": 9})


async def test_restore_prunes_empty_containers() -> None:
    """Restoring the last value drops the parameter, then the function entry."""
    strikes = StrikeList()
    await strikes.strike(send_email, "customer_id", "==", 1)
    await strikes.strike(send_email, "customer_id", "==", 2)
    await strikes.strike(None, "region", "==", "eu")
    await strikes.restore(send_email, "customer_id", "==", 1)
    assert strikes.task_strikes == {
        "send_email": {"customer_id": {(Operator.EQUAL, 2)}}
    }
    await strikes.restore(send_email, "customer_id", "==", 2)
    await strikes.restore(None, "region", "==", "eu")
    assert strikes.task_strikes == {}
    assert strikes.parameter_strikes == {}


async def test_strike_and_restore_are_idempotent() -> None:
    """Repeating a strike changes nothing; restoring what is absent is a no-op."""
    strikes = StrikeList()
    assert strikes.update(Strike("send_email", "customer_id", "==", 1))
    assert not strikes.update(Strike("send_email", "customer_id", "==", 1))
    assert not strikes.update(Restore("send_email", "customer_id", "==", 9))
    assert not strikes.update(Restore("never_struck", None, "==", None))
    assert strikes.update(Restore("send_email", "customer_id", "==", 1))
    assert not strikes.is_stricken(call(1))


async def test_whole_function_strike_is_independent_of_parameter_strikes() -> None:
    """Our cleaner model: parameter strikes neither shadow nor pin a whole strike."""
    strikes = StrikeList()
    await strikes.strike(send_email)
    await strikes.strike(send_email, "customer_id", "==", 1)
    assert strikes.is_stricken(call(2))
    assert strikes.struck_functions == {"send_email"}
    await strikes.restore(send_email)
    assert not strikes.is_stricken(call(2))
    assert strikes.is_stricken(call(1))
    assert strikes.task_strikes == {
        "send_email": {"customer_id": {(Operator.EQUAL, 1)}}
    }


async def test_conditions_are_checked_and_removable() -> None:
    """Temporary conditions strike executions until they are removed."""
    strikes = StrikeList()
    seen: list[str] = []

    def first(execution: Any) -> bool:
        seen.append("first")
        return False

    def second(execution: Any) -> bool:
        seen.append("second")
        return execution.args == (7,)

    strikes.add_condition(first)
    strikes.add_condition(second)
    assert strikes.is_stricken(call(7))
    assert seen == ["second"]
    assert not strikes.is_stricken({"customer_id": 7})
    strikes.remove_condition(second)
    strikes.remove_condition(second)
    assert not strikes.is_stricken(call(7))


def test_no_rules_returns_at_once_without_inspecting_the_target() -> None:
    """The fast path never looks at the target when there is nothing to check."""
    assert StrikeList().is_stricken(object()) is False


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("send_email", "x", "~=", 1), "Unknown strike operator '~='"),
        (("send_email", "x", "between", 5), r"needs a \(low, high\) tuple"),
        (("send_email", "x", "between", (1, 2, 3)), r"needs a \(low, high\) tuple"),
        (("send_email", "x", "between", (9, 1)), "low <= high"),
        ((None, None, "==", None), "needs a function, a parameter, or both"),
    ],
)
async def test_invalid_strikes_are_rejected_at_the_sender(
    arguments: tuple[Any, ...], message: str
) -> None:
    """Bad operators and malformed ranges raise ValueError early."""
    strikes = StrikeList()
    with pytest.raises(ValueError, match=message):
        await strikes.strike(*arguments)
    with pytest.raises(ValueError, match=message):
        await strikes.restore(*arguments)
    assert strikes.task_strikes == {} and strikes.parameter_strikes == {}


def test_received_unhashable_values_are_ignored_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An instruction that slipped past validation is logged and ignored."""
    strikes = StrikeList()
    with caplog.at_level(logging.WARNING, logger="docket.strikelist"):
        assert not strikes.update(Strike(None, "tags", "==", ["a"]))
    assert "Incompatible type for strike condition: == ['a']" in caplog.text
    assert strikes.parameter_strikes == {}


def test_operator_enum_and_validation() -> None:
    """Operator is a str enum of the seven operators; unknown ones raise ValueError."""
    assert [o.value for o in Operator] == ["==", "!=", ">", ">=", "<", "<=", "between"]
    assert Operator("between") is Operator.BETWEEN and Operator.EQUAL == "=="
    with pytest.raises(ValueError, match="Unknown strike operator 'like'"):
        Strike("f", "p", "like", 1)  # type: ignore[arg-type]


def test_call_repr_uses_stars_for_wildcards() -> None:
    """Instructions render as fn(param op value), with * for what is not given."""
    assert Strike("send_email", "customer_id", "==", 1).call_repr() == (
        "send_email(customer_id == 1)"
    )
    assert Strike(None, "region", "!=", "eu").call_repr() == "*(region != 'eu')"
    assert Restore("send_email", None, "==", None).call_repr() == "send_email(* == *)"
    assert repr(Restore(None, "n", "between", (1, 2))) == "Restore(*(n between (1, 2)))"


def test_labels_describe_the_instruction() -> None:
    """labels() names the task, and the parameter/operator/value when given."""
    assert Strike("f", None, "==", None).labels() == {"docket.task": "f"}
    assert Strike(None, "p", ">", 3).labels() == {
        "docket.parameter": "p",
        "docket.operator": ">",
        "docket.value": "3",
    }


def test_messages_round_trip_with_a_cloudpickled_value() -> None:
    """as_message/from_message keep every part; unset parts are left out."""
    message = Restore("f", "p", "between", (1, 2)).as_message()
    assert message[b"direction"] == b"restore"
    assert cloudpickle.loads(message[b"value"]) == (1, 2)
    back = StrikeInstruction.from_message(message)
    assert isinstance(back, Restore)
    assert (back.function, back.parameter) == ("f", "p")
    assert (back.operator, back.value) == (Operator.BETWEEN, (1, 2))
    whole = Strike("f", None, "==", None).as_message()
    assert b"parameter" not in whole and b"function" in whole
    text_keys = {k.decode(): v for k, v in whole.items()}
    assert isinstance(StrikeInstruction.from_message(text_keys), Strike)
    with pytest.raises(ValueError, match="Unknown strike direction"):
        StrikeInstruction.from_message({b"direction": b"sideways"})


async def test_striking_logs_effective_changes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Striking and restoring log INFO lines with the instruction's representation."""
    strikes = StrikeList()
    with caplog.at_level(logging.INFO, logger="docket.strikelist"):
        await strikes.strike(send_email, "customer_id", "<", 3)
        await strikes.restore(send_email, "customer_id", "<", 3)
    assert "Striking send_email(customer_id < 3)" in caplog.text
    assert "Restoring send_email(customer_id < 3)" in caplog.text


async def test_local_list_needs_no_connection() -> None:
    """Without a URL, entering (even twice) works and strikes load at once."""
    strikes = StrikeList(name="orders")
    assert strikes.strike_key == "orders:strikes"
    await strikes.wait_for_strikes_loaded()
    async with strikes:
        async with strikes:
            await strikes.strike("f")
    with pytest.raises(RuntimeError, match="not connected to Redis"):
        await strikes.send_instruction(Strike("f", None, "==", None))
    assert strikes.is_stricken(FakeExecution(send_email, function_name="f"))
