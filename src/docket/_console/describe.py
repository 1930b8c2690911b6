"""Looking at stored tasks without trusting them: run records and stream entries.

``load_execution`` is ``Docket.get_execution``: it verifies the recorded
arguments like a worker verifies a message. ``describe_message`` and
``describe_record`` serve the inspection commands (``docket snapshot``,
``docket watch``): they decode arguments only when they verify against the
docket's signing keys, or, on a docket without keys, only when the caller
passed ``unsafe=True`` (``--unpickle``); otherwise they show a
placeholder. They never raise for an entry they cannot read.
"""

from __future__ import annotations

import reprlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .. import _codec
from .._broker import RunRecord
from .._codec import JSON, Codec
from .._codec.message import (
    DEFAULT_PRIORITY,
    MalformedMessage,
    TaskMessage,
    UnverifiedMessage,
    decode_message,
    identity,
    open_arguments,
)
from .._handles import DocketHandle
from .._tasks import placeholder_task
from ..execution import Execution, ExecutionState

HIDDEN = "<hidden: unsigned payload (--unpickle shows it)>"
GONE = "<not kept once the task finished>"
FINISHED = ("completed", "failed", "cancelled")


class _Brief(reprlib.Repr):
    """reprlib's short forms, without writing out all of a long bytes value
    first (a 100 KB argument costs a millisecond to repr in full)."""

    def repr_bytes(self, x: bytes, level: int) -> str:
        if len(x) > 2 * self.maxother:  # its head and tail are all that show
            x = x[: self.maxother] + x[-self.maxother :]
        return self.repr_instance(x, level)


_REPR = _Brief()
_REPR.maxstring = _REPR.maxother = 80
_LONGEST = 240


def record_message(key: str, record: RunRecord) -> dict[bytes, bytes] | None:
    """The task message a run record holds, or None when it lacks one.

    Records of signed messages keep the message's exact ``when`` text, attempt,
    serializer and signature (schedule.lua copies them), so the record verifies
    exactly as the message did."""
    if record.function is None or not (record.args and record.kwargs):
        return None
    if record.when is None:
        return None
    when = record.message_when or _codec.iso(
        datetime.fromtimestamp(record.when, timezone.utc)
    )
    fields = {
        b"key": key.encode(),
        b"function": record.function.encode(),
        b"when": when.encode(),
        b"args": record.args,
        b"kwargs": record.kwargs,
        b"generation": str(record.generation).encode(),
    }
    if record.priority != DEFAULT_PRIORITY:
        fields[b"priority"] = str(record.priority).encode()
    for name, value in (
        (b"attempt", record.attempt),
        (b"serializer", record.serializer),
        (b"signature", record.signature),
    ):
        if value is not None:
            fields[name] = value.encode()
    return fields


def _finished(record: RunRecord) -> bool:
    """A finished record keeps its arguments empty (settle.lua blanks them)."""
    return record.state in FINISHED and not (record.args and record.kwargs)


async def load_execution(docket: DocketHandle, key: str) -> Execution | None:
    """The execution recorded under ``key``, its arguments verified and decoded
    (empty for a finished record, which keeps its state and result only)."""
    record = await docket.broker.runs.observed(key)
    if record is None or record.function is None or record.when is None:
        return None
    args: tuple[object, ...] = ()
    kwargs: dict[str, object] = {}
    when = datetime.fromtimestamp(record.when, timezone.utc)
    if not _finished(record):
        fields = record_message(key, record)
        if fields is None:
            return None
        message = decode_message(fields)
        args, kwargs = open_arguments(docket.codec, message)
        when = message.when
    name = record.function
    execution = Execution(
        docket,
        docket.tasks.get(name) or placeholder_task(name),
        args,
        kwargs,
        key,
        when,
        1,
        function_name=name,
        generation=record.generation,
    )
    execution.priority = record.priority
    await execution.sync()
    if execution.state is ExecutionState.WAITING:
        gate = await docket.broker.gates.get(key)
        execution.waiting_on = [] if gate is None else gate.awaited
    return execution


@dataclass(frozen=True)
class Entry:
    """One stored task as an inspection command shows it."""

    key: str
    function: str
    when: datetime | None
    arguments: str  # the call's arguments, or a placeholder saying why not
    readable: bool  # False: unverified or unreadable
    priority: int = DEFAULT_PRIORITY


def brief(value: Any) -> str:
    """A short repr of one value (long strings and containers elided)."""
    return _REPR.repr(value)


def format_arguments(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
    parts = [_REPR.repr(a) for a in args]
    parts += [f"{k}={_REPR.repr(v)}" for k, v in kwargs.items()]
    text = f"({', '.join(parts)})"
    return text if len(text) <= _LONGEST else text[: _LONGEST - 4] + "...)"


def arguments_text(
    codec: Codec, message: TaskMessage, unsafe: bool, hidden: str = HIDDEN
) -> tuple[str, bool]:
    """How to show the message's arguments, and whether they could be read:
    decoded when they verify against the codec's keys, or (without keys) only
    when ``unsafe``; ``hidden`` otherwise. Never raises."""
    if not codec.signing and not unsafe and message.serializer != JSON:
        return hidden, True  # JSON payloads decode without running code
    try:
        args, kwargs = open_arguments(codec, message)
    except UnverifiedMessage as problem:
        return f"<unverified: {problem.reason}>", False
    except Exception as error:  # whatever decoding an unsafe payload raised
        return f"<unreadable: {_codec.error_text(error)}>", False
    return format_arguments(args, kwargs), True


def describe_message(
    codec: Codec, fields: Mapping[bytes, bytes], unsafe: bool = False
) -> Entry:
    """A stream entry or parked task; never raises for a bad entry."""
    try:
        message = decode_message(fields)
    except MalformedMessage as problem:
        key, function, _ = identity(fields)
        return Entry(key, function, None, f"<unreadable: {problem}>", False)
    text, readable = arguments_text(codec, message, unsafe)
    return Entry(
        message.key, message.function, message.when, text, readable, message.priority
    )


async def describe_record(
    docket: DocketHandle, key: str, unsafe: bool = False
) -> tuple[Execution, Entry] | None:
    """The recorded execution of ``key`` (arguments left undecoded) and how to
    show it; None when there is no record with a task in it."""
    record = await docket.broker.runs.record(key)
    if record is None or record.function is None or record.when is None:
        return None
    name = record.function
    recorded = datetime.fromtimestamp(record.when, timezone.utc)
    if _finished(record):
        entry = Entry(key, name, recorded, GONE, True)
    else:
        fields = record_message(key, record)
        if fields is None:
            return None
        entry = describe_message(docket.codec, fields, unsafe)
    when = entry.when or recorded
    execution = Execution(
        docket,
        docket.tasks.get(name) or placeholder_task(name),
        (),
        {},
        key,
        when,
        1,
        function_name=name,
        generation=record.generation,
    )
    execution.priority = record.priority
    await execution.sync()
    return execution, entry


__all__ = [
    "GONE",
    "HIDDEN",
    "Entry",
    "arguments_text",
    "brief",
    "describe_message",
    "describe_record",
    "format_arguments",
    "load_execution",
    "record_message",
]
