"""Inspection values: DocketSnapshot, RunningExecution and WorkerInfo."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from redis.exceptions import ResponseError

from . import _defaults
from .execution import Execution

if TYPE_CHECKING:
    from .docket import Docket


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    last_seen: datetime
    tasks: set[str]


class RunningExecution(Execution):
    """An execution a worker holds right now, with who and since when."""

    worker: str | None
    started: datetime


@dataclass(frozen=True)
class DocketSnapshot:
    taken: datetime
    total_tasks: int
    future: Sequence[Execution]
    running: Sequence[RunningExecution]
    workers: Collection[WorkerInfo]


def _rebuild(docket: Docket, fields: dict[bytes, bytes]) -> Execution:
    name = fields[b"function"].decode()
    function = docket.tasks.get(name)
    if function is None:
        raise ValueError(
            f"Task function {name!r} is not registered with the current docket"
        )
    return Execution.from_fields(docket, fields, function)


def _field(entry: dict[Any, Any], name: str) -> Any:
    """A field of an XPENDING entry (redis-py uses str keys, the memory engine bytes)."""
    return entry[name] if name in entry else entry[name.encode()]


async def _read(docket: Docket) -> list[Any]:
    k = docket._keys
    pipe = docket._broker.backend.pipeline()
    pipe.xlen(k.stream)
    pipe.zcard(k.queue)
    pipe.xpending_range(
        k.stream, docket.worker_group_name, "-", "+", _defaults.SNAPSHOT_CAP
    )
    pipe.xrange(k.stream, "-", "+", count=_defaults.SNAPSHOT_CAP)
    pipe.zrange(k.queue, 0, -1)
    return await pipe.execute()


async def take_snapshot(docket: Docket) -> DocketSnapshot:
    try:
        length, queued, pending, entries, members = await _read(docket)
    except ResponseError as error:
        if "NOGROUP" not in str(error):
            raise
        await docket._broker.ensure_group()
        length, queued, pending, entries, members = await _read(docket)
    taken = datetime.now(timezone.utc)
    holders = {_field(p, "message_id"): p for p in pending}
    running: list[RunningExecution] = []
    future: list[Execution] = []
    for message_id, fields in entries:
        execution = _rebuild(docket, fields)
        holder = holders.get(message_id)
        if holder is None:
            future.append(execution)
            continue
        execution.__class__ = RunningExecution
        assert isinstance(execution, RunningExecution)
        execution.worker = _field(holder, "consumer").decode()
        execution.started = taken - timedelta(
            milliseconds=_field(holder, "time_since_delivered")
        )
        running.append(execution)
    if members:
        pipe = docket._broker.backend.pipeline()
        for member in members:
            pipe.hgetall(docket._keys.parked(member.decode()))
        for fields in await pipe.execute():
            if fields:
                future.append(_rebuild(docket, fields))
    workers = await docket.workers()
    return DocketSnapshot(taken, int(length) + int(queued), future, running, workers)


def worker_infos(rows: list[tuple[str, float, set[str]]]) -> list[WorkerInfo]:
    return [
        WorkerInfo(name, datetime.fromtimestamp(seen, timezone.utc), tasks)
        for name, seen, tasks in rows
    ]


__all__ = [
    "DocketSnapshot",
    "RunningExecution",
    "WorkerInfo",
    "take_snapshot",
    "worker_infos",
]
