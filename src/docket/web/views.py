"""The data behind each page, shared by the HTML pages, ``/api/`` and the live
event stream. Every view reads at most a page (or a bounded chunk) of any list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from .. import _codec
from .._broker.lanes import by_priority
from .._broker.listing import Depths, Fields, Listed
from ._timing_rows import task_types
from .console import Console
from .rows import TaskRow, task_row, with_progress

SEARCH_SCAN = 2_000  # entries a search examines per list
SEARCH_BYTES = 4_000_000  # stored bytes a search reads per stream-ordered list
CHUNK = 500
FIRST_CHUNK = 25  # a search's first read, before it knows how big entries are


def counts_dict(depths: Depths, workers: int) -> dict[str, int]:
    return {
        "queued": depths.queued,
        "running": depths.running,
        "scheduled": depths.scheduled,
        "failed": depths.failed,
        "dead": depths.dead,
        "workers": workers,
    }


async def counts(console: Console) -> dict[str, int]:
    docket = await console.ready()
    depths = await docket.broker.views.counts()
    return counts_dict(depths, len(await docket.workers()))


async def overview(console: Console) -> dict[str, Any]:
    docket = await console.ready()
    hour = await docket.throughput(60)
    failing: dict[str, int] = {}
    for minute in hour:
        for task, outcomes in minute.tasks.items():
            if outcomes.get("failed"):
                failing[task] = failing.get(task, 0) + outcomes["failed"]
    top = sorted(failing.items(), key=lambda item: (-item[1], item[0]))[:5]
    return {
        "counts": await counts(console),
        "last_hour": {
            "completed": sum(m.total("completed") for m in hour),
            "failed": sum(m.total("failed") for m in hour),
            "retried": sum(m.total("retried") for m in hour),
        },
        "top_failing": [{"task": task, "failed": n} for task, n in top],
        "task_types": await task_types(console),
    }


async def throughput(console: Console, minutes: int) -> list[dict[str, Any]]:
    docket = await console.ready()
    return [minute.as_dict() for minute in await docket.throughput(minutes)]


@dataclass
class Section:
    """One table of the tasks page: its rows and where its next page starts."""

    rows: list[TaskRow] = field(default_factory=list)
    following: str | None = None
    searched: int | None = None  # entries examined by a search

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": [row.as_dict() for row in self.rows],
            "next": self.following,
            "searched": self.searched,
        }


def _matches(fields: Fields, needle: bytes) -> bool:
    """A search hit, on the stored bytes: the task name exactly, or part of
    the key (UTF-8 substrings match as the text does). Nothing is decoded."""
    return fields.get(b"function") == needle or needle in fields.get(b"key", b"")


def _size(fields: Fields) -> int:
    return sum(len(name) + len(value) for name, value in fields.items())


def _next_chunk(read: int, examined: int) -> int:
    """How many entries to read next while searching: as many as the byte
    budget left holds at the average size so far (10 to ``CHUNK``)."""
    if not examined:
        return FIRST_CHUNK
    average = max(1, read // examined)
    return max(10, min(CHUNK, (SEARCH_BYTES - read) // average))


async def _paged(
    console: Console,
    fetch: Callable[[int, str | None], Awaitable[list[Listed]]],
    after: str | None,
    query: str,
) -> Section:
    """One page of an ordered listing (running or queued), after ``after``;
    a search matches the stored key and task name of up to ``SEARCH_SCAN``
    entries (or ``SEARCH_BYTES`` of them), and decodes only its hits."""
    size, section = console.settings.page_size, Section()
    needle = query.encode()
    examined, read, cursor = 0, 0, after
    while True:
        chunk = _next_chunk(read, examined) if query else size
        listed = await fetch(chunk, cursor)
        for item in listed:
            examined += 1
            cursor = item.position
            if query:
                read += _size(item.fields)
                if not _matches(item.fields, needle):
                    continue
            row = task_row(item, console.settings.unpickle, console.docket.codec)
            section.rows.append(row)
            if len(section.rows) >= size:
                break
        if len(section.rows) >= size or len(listed) < chunk:
            break
        if query and (examined >= SEARCH_SCAN or read >= SEARCH_BYTES):
            break
    exhausted = len(listed) < chunk and len(section.rows) < size
    section.following = None if exhausted else cursor
    section.searched = examined if query else None
    return section


async def _running(console: Console, after: str | None, query: str) -> Section:
    docket = console.docket
    section = await _paged(console, docket.broker.views.running_page, after, query)
    keys = [row.key for row in section.rows]
    progress = await docket.broker.views.progress_of(keys)
    started = await docket.broker.views.started_of(keys)
    for row, hash_, since in zip(section.rows, progress, started, strict=True):
        with_progress(row, hash_)
        row.started_at = since
    return section


async def _queued(console: Console, after: str | None, query: str) -> Section:
    """Due tasks no worker has taken, in the order workers start them: those on
    the priority lanes above 5, the stream's unread messages, the lanes below."""
    return await _paged(console, console.docket.broker.views.due_page, after, query)


async def _scheduled(console: Console, offset: int, query: str) -> Section:
    """One page of future tasks from position ``offset``; a search matches
    their keys (the queue's members) and stored task names in Redis, reading
    no payload, and fetches only its hits."""
    broker, codec = console.docket.broker, console.docket.codec
    size, section = console.settings.page_size, Section()
    position, examined = offset, 0
    while True:
        wanted = size - len(section.rows)
        if query:
            examined, hits = await broker.views.scheduled_search(
                position, SEARCH_SCAN, query, wanted
            )
            chunk = SEARCH_SCAN
        else:
            hits = await broker.views.scheduled_members(position, wanted)
            examined, chunk = len(hits), wanted
        position += examined
        for item in await broker.views.parked_tasks(hits):
            section.rows.append(task_row(item, console.settings.unpickle, codec))
        if query or len(section.rows) >= size or examined < chunk:
            break  # a search examines SEARCH_SCAN entries in one call
    full = len(section.rows) >= size
    section.following = str(position) if full or examined >= chunk else None
    section.searched = position - offset if query else None
    return section


Signals = dict[str, list[tuple[str, datetime | None]]]


async def _waiting(
    console: Console, query: str
) -> tuple[Section, dict[str, tuple[list[str], int]], Signals]:
    """The first page of waiting tasks: for their parents (``after=``), with the
    parents each still waits for and how many it has, or for signals (each name
    and since when); a search keeps those whose key contains it or whose task is
    it."""
    broker, codec = console.docket.broker, console.docket.codec
    members = await broker.views.waiting_members(console.settings.page_size)
    section, gates = Section(), {}
    signals: Signals = {}
    for item in await broker.views.parked_tasks(members):
        row = task_row(item, console.settings.unpickle, codec)
        if query and query not in row.key and query != row.task:
            continue
        gate = await broker.gates.get(row.key)
        if gate is not None:
            gates[row.key] = (gate.awaited, len(gate.parents))
        signals[row.key] = [
            (wait.name, _epoch(wait.since))
            for wait in (await broker.mailbox.received(row.key)).values()
            if wait.waiting
        ]
        section.rows.append(row)
    return section, gates, signals


def _epoch(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, timezone.utc)


async def lookup(console: Console, key: str) -> dict[str, Any] | None:
    """The run record of an exact key: its state, task and times."""
    if not key:
        return None
    try:
        record = await console.docket.broker.runs.record(key)
    except ValueError:
        return None
    if record is None:
        return {"key": key, "state": None}
    return {
        "key": key,
        "state": record.state,
        "task": record.function,
        "worker": record.worker,
        "started_at": record.started_at,
        "completed_at": record.completed_at,
        "error": record.error,
    }


async def tasks(
    console: Console,
    query: str = "",
    running_after: str | None = None,
    queued_after: str | None = None,
    scheduled_offset: int = 0,
) -> dict[str, Any]:
    docket = await console.ready()
    waiting, gates, signals = await _waiting(console, query)
    depths = await docket.broker.views.counts()
    return {
        "by_priority": _by_priority(depths),
        "scheduled_total": depths.scheduled,
        "query": query,
        "lookup": await lookup(console, query),
        "running": await _running(console, running_after, query),
        "queued": await _queued(console, queued_after, query),
        "scheduled": await _scheduled(console, scheduled_offset, query),
        "waiting": waiting,
        "gates": gates,
        "signals": signals,
    }


def _by_priority(depths: Depths) -> dict[int, int]:
    """Due tasks waiting per priority, highest first; {} unless more than one
    priority is present (a plain docket's page is as it was)."""
    if not depths.lanes:
        return {}
    return by_priority(depths.lanes, depths.queued - sum(depths.lanes.values()))


def tasks_json(data: dict[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if data["by_priority"]:
        extra["due_by_priority"] = {str(p): n for p, n in data["by_priority"].items()}
    return {
        **extra,
        "query": data["query"],
        "lookup": data["lookup"],
        "running": data["running"].as_dict(),
        "queued": data["queued"].as_dict(),
        "scheduled": data["scheduled"].as_dict(),
        "waiting": data["waiting"].as_dict(),
        "waiting_on_signals": {
            key: [
                {"signal": name, "since": _codec.iso(since) if since else None}
                for name, since in waits
            ]
            for key, waits in data["signals"].items()
            if waits
        },
    }


async def failed(
    console: Console,
    task: str | None,
    error_type: str | None,
    key: str | None,
    since: timedelta | None,
    cursor: str | None,
) -> dict[str, Any]:
    docket = await console.ready()
    page = await docket.failed_tasks.list(
        task,
        error_type,
        key,
        since,
        console.settings.page_size,
        cursor,
        contains=True,
    )
    return {
        "tasks": [t.as_dict(console.settings.unpickle) for t in page.tasks],
        "cursor": page.cursor,
        "total": await docket.failed_tasks.count(),
    }


DEAD_FILTERS = ("task", "key", "reason")


async def dead(
    console: Console, cursor: str | None, filters: dict[str, str] | None = None
) -> dict[str, Any]:
    """A page of dead letters; ``filters`` (task, key, reason) match any part."""
    docket = await console.ready()
    size = console.settings.page_size
    chosen = {name: value for name, value in (filters or {}).items() if value}
    if chosen:
        letters, following = await docket.dead_letters.find(size, cursor, **chosen)
    else:
        letters = await docket.dead_letters.list(size, cursor)
        following = letters[-1].id if len(letters) == size else None
    return {
        "letters": [letter.as_dict() for letter in letters],
        "cursor": following,
        "filters": {name: (filters or {}).get(name, "") for name in DEAD_FILTERS},
    }


async def workers(console: Console) -> dict[str, Any]:
    docket = await console.ready()
    infos = await docket.workers()
    capacity, held = await docket.broker.views.worker_details()
    now = _codec.now()
    rows = [
        {
            "name": info.name,
            "tasks": sorted(info.tasks),
            "concurrency": capacity.get(info.name),
            "in_flight": held.get(info.name, 0),
            "last_seen": _codec.iso(info.last_seen),
            "seconds_ago": round((now - info.last_seen).total_seconds(), 1),
        }
        for info in sorted(infos, key=lambda w: w.name)
    ]
    return {"workers": rows}


async def strikes(console: Console) -> dict[str, Any]:
    docket = await console.ready()
    strike_list = docket.strike_list
    rows: list[dict[str, Any]] = []
    for function in sorted(strike_list.struck_functions):
        rows.append({"function": function, "parameter": None, "operator": None})
    for function, parameters in sorted(strike_list.task_strikes.items()):
        for parameter, pairs in sorted(parameters.items()):
            for operator, value in sorted(pairs, key=repr):
                rows.append(_strike(function, parameter, operator, value))
    for parameter, pairs in sorted(strike_list.parameter_strikes.items()):
        for operator, value in sorted(pairs, key=repr):
            rows.append(_strike(None, parameter, operator, value))
    return {"strikes": rows}


def _strike(
    function: str | None, parameter: str, operator: Any, value: Any
) -> dict[str, Any]:
    return {
        "function": function,
        "parameter": parameter,
        "operator": getattr(operator, "value", str(operator)),
        "value": repr(value),
    }
