"""The ``--json`` forms of ``snapshot`` and ``workers ls`` (stable field names)."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from .. import _codec
from .._codec.message import DEFAULT_PRIORITY
from .._console.snapshot import WorkerInfo
from ._snapshot_view import Row, View, start_order


def worker_dict(info: WorkerInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "last_seen": _codec.iso(info.last_seen),
        "tasks": sorted(info.tasks),
    }


def workers_json(workers: Collection[WorkerInfo]) -> str:
    ordered = sorted(workers, key=lambda w: w.last_seen, reverse=True)
    return json.dumps({"workers": [worker_dict(w) for w in ordered]}, indent=2)


def snapshot_json(docket_name: str, snap: View) -> str:
    """Arguments appear as the table shows them: decoded only when they verify
    (or with --unsafe-show-args on a docket without keys), else a placeholder."""

    def task(row: Row) -> dict[str, Any]:
        document: dict[str, Any] = {
            "key": row.entry.key,
            "task": row.function,
            "when": _codec.iso(row.when),
            "arguments": row.entry.arguments,
            "readable": row.entry.readable,
        }
        if row.suspended is not None:  # Suspend: what its run waits for, since when
            document["suspended"] = row.suspended.as_dict()
        if row.priority != DEFAULT_PRIORITY:  # (a plain docket's says nothing new)
            document["priority"] = row.priority
        return document

    document: dict[str, Any] = {
        "docket": docket_name,
        "taken": _codec.iso(snap.taken),
        "total_tasks": snap.total_tasks,
        "running": [
            {
                **task(row),
                "worker": row.worker,
                "started": _codec.iso(row.started or snap.taken),
            }
            for row in snap.running
        ],
        "future": [  # due ones in the order workers start them, then the rest
            task(row)
            for row in sorted(snap.future, key=lambda r: start_order(r, snap.taken))
        ],
        "workers": [worker_dict(w) for w in snap.workers],
        "waiting_on_signals": [
            {
                "key": wait.key,
                "signal": wait.signal,
                "since": _codec.iso(wait.since) if wait.since else None,
                "times_out": _codec.iso(wait.deadline) if wait.deadline else None,
            }
            for wait in snap.signals
        ],
    }
    if snap.fair_share:  # only a docket with FairShare backlogs has the field
        document["fair_share"] = [
            {"task": task, "value": d.value, "queued": d.queued, "weight": d.weight}
            for task, depths in sorted(snap.fair_share.items())
            for d in depths
        ]
    if snap.by_priority:  # more than one priority waits
        document["due_by_priority"] = {str(p): n for p, n in snap.by_priority.items()}
    return json.dumps(document, indent=2)
