"""Fault classification, the missing-rule hint and the backoff, as plain functions."""

from __future__ import annotations

import asyncio
import sys

import pytest
from redis.exceptions import (
    AuthenticationError,
    BusyLoadingError,
    NoPermissionError,
    ReadOnlyError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from docket._redis.faults import Backoff, Fault, classify, missing_rule

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import ExceptionGroup


@pytest.mark.parametrize(
    "error",
    [
        RedisConnectionError("Connection refused"),
        RedisTimeoutError("Timeout reading from socket"),
        ResponseError("OOM command not allowed when used memory > 'maxmemory'."),
        ReadOnlyError("You can't write against a read only replica."),
        BusyLoadingError("Redis is loading the dataset in memory"),
        ResponseError("BUSY Redis is busy running a script."),
        ResponseError("MISCONF Redis is configured to save RDB snapshots"),
        ResponseError("NOREPLICAS Not enough good replicas to write."),
        ConnectionResetError(),
        asyncio.TimeoutError(),
    ],
)
def test_server_trouble_is_transient(error: BaseException):
    """Unreachable, paused, loading, read-only, busy, out of memory: wait it out."""
    assert classify(error) is Fault.TRANSIENT


@pytest.mark.parametrize(
    "error",
    [
        NoPermissionError("this user has no permissions to run the 'xadd' command"),
        AuthenticationError("invalid username-password pair"),
        ResponseError("NOAUTH Authentication required."),
        ResponseError("WRONGPASS invalid username-password pair or user is disabled."),
    ],
)
def test_refusals_are_permission_errors(error: BaseException):
    """Authentication and ACL refusals are configuration errors."""
    assert classify(error) is Fault.PERMISSION


def test_other_exceptions_are_bugs_and_groups_take_the_worst():
    """A non-Redis error is a bug; a group is as bad as its worst member."""
    assert classify(KeyError("x")) is Fault.BUG
    group = ExceptionGroup("two", [RedisConnectionError("down"), KeyError("x")])
    assert classify(group) is Fault.BUG
    transient = ExceptionGroup("two", [RedisConnectionError("a"), OSError("b")])
    assert classify(transient) is Fault.TRANSIENT


def test_the_missing_rule_is_named():
    """The hint says which ACL rule to grant: a command, the keys or the channels."""
    command = NoPermissionError(
        "User u has no permissions to run the 'xgroup|create' command"
    )
    assert missing_rule(command, "P") == "+xgroup|create"
    key = NoPermissionError("No permissions to access a key")
    assert missing_rule(key, "P") == "~P:*"
    channel = NoPermissionError("No permissions to access a channel")
    assert missing_rule(channel, "P").startswith("&P:cancel:* &P:state:*")
    assert "password" in missing_rule(AuthenticationError("WRONGPASS"), "P")
    assert missing_rule(NoPermissionError("something else"), "P") == ""


def test_backoff_doubles_with_jitter_up_to_its_cap_and_resets():
    """Each failure doubles the ceiling (delays fall in its upper half) up to the
    cap; a reset starts again from the base."""
    backoff = Backoff(0.1, 1.0)
    delays = [backoff.next_delay() for _ in range(6)]
    for delay, ceiling in zip(delays, [0.1, 0.2, 0.4, 0.8, 1.0, 1.0], strict=True):
        assert ceiling / 2 <= delay <= ceiling
    backoff.reset()
    assert backoff.next_delay() <= 0.1
