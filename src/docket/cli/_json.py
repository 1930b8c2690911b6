"""The ``--json`` forms of ``snapshot`` and ``workers ls`` (stable field names)."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from .. import _codec
from .._snapshot import DocketSnapshot, WorkerInfo


def worker_dict(info: WorkerInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "last_seen": _codec.iso(info.last_seen),
        "tasks": sorted(info.tasks),
    }


def workers_json(workers: Collection[WorkerInfo]) -> str:
    ordered = sorted(workers, key=lambda w: w.last_seen, reverse=True)
    return json.dumps({"workers": [worker_dict(w) for w in ordered]}, indent=2)


def snapshot_json(docket_name: str, snap: DocketSnapshot) -> str:
    document = {
        "docket": docket_name,
        "taken": _codec.iso(snap.taken),
        "total_tasks": snap.total_tasks,
        "running": [
            {
                "key": e.key,
                "task": e.function_name,
                "when": _codec.iso(e.when),
                "worker": e.worker,
                "started": _codec.iso(e.started),
            }
            for e in snap.running
        ],
        "future": [
            {"key": e.key, "task": e.function_name, "when": _codec.iso(e.when)}
            for e in sorted(snap.future, key=lambda e: e.when)
        ],
        "workers": [worker_dict(w) for w in snap.workers],
    }
    return json.dumps(document, indent=2)
