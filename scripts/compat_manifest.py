"""Write tests/core/compat_manifest.json: the public surface of the published pydocket.

Run it with an interpreter in which the published pydocket (the release whose API
we keep) is installed, never ours, for example a throwaway virtualenv:

    python3 -m venv /tmp/pyd-venv && /tmp/pyd-venv/bin/pip install pydocket==0.27.2
    /tmp/pyd-venv/bin/python scripts/compat_manifest.py

tests/core/test_compat_manifest.py then walks our package against the file, so a
change that drops a public name, a class member or a parameter fails the suite.
What ours leaves out on purpose, and defaults that differ on purpose, are listed
below with the reason; the file records the reason instead of the description.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "tests" / "core" / "compat_manifest.json"

# Internals of the reference with no counterpart here. ARCHITECTURE.md
# ("Deliberate differences from the reference") gives the same list.
_LUA = (
    "the reference's way of declaring its Lua scripts; ours are package files "
    "run by the broker (docket/_broker/lua)"
)
_REDIS = (
    "the reference's Redis connection layer and its typing aliases; here every "
    "Redis command lives in docket._broker and Docket.redis() yields the "
    "redis-py client"
)
_TELEMETRY = "an internal helper of the reference's telemetry module"
_CANCELLING = (
    "the reference's helpers for stopping its own background tasks (worker "
    "loops, the strike monitor)"
)
_STRIKE_TYPES = (
    "typing aliases of the reference's strike tables; StrikeList keeps plain "
    "dicts and sets"
)
LEFT_OUT: dict[str, str] = {
    **{
        f"docket.{module}.{name}": _LUA
        for module in ("docket", "worker")
        for name in ("Arg", "Key", "redis_script")
    },
    **{
        f"docket.docket.{name}": _REDIS
        for name in (
            "PubSubClient",
            "RedisClient",
            "RedisConnection",
            "RedisMessages",
            "RedisReadGroupResponse",
            "RedisStream",
            "RedisStreamID",
            "RedisStreamPendingMessage",
        )
    },
    "docket.execution.RedisClient": _REDIS,
    "docket.execution.Message": _REDIS,
    "docket.execution.confirm_subscriptions": _REDIS,
    "docket.execution.is_cluster_client": _REDIS,
    "docket.instrumentation.Message": _REDIS,
    "docket.strikelist.Message": _REDIS,
    "docket.strikelist.RedisConnection": _REDIS,
    "docket.worker.PubSubMessage": _REDIS,
    "docket.worker.RedisClient": _REDIS,
    "docket.worker.RedisReadGroupResponse": _REDIS,
    "docket.worker.redis_is_unavailable": (
        "the reference's Redis fault test; faults are classified in "
        "docket._redis.faults here"
    ),
    "docket.docket.CLEAR_BATCH": (
        "the reference's clear() batch size; clear() here is one script call"
    ),
    "docket.docket.DocketSnapshotMixin": (
        "the reference's implementation mixin; Docket has snapshot(), workers() "
        "and task_workers() itself"
    ),
    "docket.docket.ResultStorage": (
        "the reference's wrapper around the result store; Docket.result_storage "
        "is the py-key-value store itself"
    ),
    "docket.docket.tracer": (
        "spans are built by docket.instrumentation, only while a tracer provider is "
        "installed: there is no module tracer"
    ),
    "docket.worker.tracer": (
        "spans are built by docket.instrumentation, only while a tracer provider is "
        "installed: there is no module tracer"
    ),
    "docket.execution.logger": "nothing logs under docket.execution here",
    "docket.execution.suppress_instrumentation": _TELEMETRY,
    "docket.strikelist.suppress_instrumentation": _TELEMETRY,
    "docket.worker.suppress_instrumentation": _TELEMETRY,
    "docket.strikelist.CANCEL_MSG_CLEANUP": _CANCELLING,
    "docket.strikelist.cancel_task": _CANCELLING,
    "docket.worker.CANCEL_MSG_CLEANUP": _CANCELLING,
    "docket.worker.cancel_task": _CANCELLING,
    "docket.worker.cancelling": _CANCELLING,
    "docket.strikelist.MinimalStrike": _STRIKE_TYPES,
    "docket.strikelist.ParameterStrikes": _STRIKE_TYPES,
    "docket.strikelist.TaskStrikes": _STRIKE_TYPES,
    "docket.worker.MINIMUM_TTL_SECONDS": (
        "the reference's floor for its concurrency-slot expiry; slots here expire "
        "by the holders' renewals"
    ),
    "docket.worker.RedeliverySweep": (
        "the reference's redelivery machinery; ours is docket._broker.sweep and "
        "docket._worker.liveness"
    ),
    "docket.worker.renew_leases": (
        "the reference's lease renewal; ours is docket._worker.liveness"
    ),
    "docket.worker.perpetual_is_live": (
        "the reference's automatic-perpetual check; ours is in docket._worker.scheduler"
    ),
    "docket.worker.detect_single_conflicts": (
        "internal to the reference's dependency validation; the public checks are "
        "Worker.validate_task_dependencies and dependencies.validate_dependencies"
    ),
    "docket.worker.validate_worker_dependencies": (
        "internal to the reference's dependency validation; the public checks are "
        "Worker.validate_task_dependencies and dependencies.validate_dependencies"
    ),
    **{
        f"docket.cli.{name}": (
            "a display helper of the reference's CLI; our tables are our own"
        )
        for name in ("get_task_stats", "local_time", "print_workers")
    },
}

# Defaults that differ on purpose (the parameter exists, its default is ours).
_WORKER_NAME = (
    "None: the worker names itself <hostname>#<pid> as it starts (the reference "
    "computes that name when the CLI module is imported)"
)
_LOG_FORMAT = (
    "None: rich on a terminal, else plain, decided when the command runs (the "
    "reference decides when the CLI module is imported)"
)
DIFFERENCES: dict[str, str] = {
    "docket.cli.worker(name)": _WORKER_NAME,
    "cli:worker name": _WORKER_NAME,
    "docket.cli.worker(logging_format)": _LOG_FORMAT,
    "cli:worker logging_format": _LOG_FORMAT,
}


def main() -> int:
    sys.path.insert(0, str(ROOT / "tests" / "_support"))
    import surface  # noqa: PLC0415 - found through the path set above

    import docket  # the reference's, in this interpreter

    if Path(docket.__file__).resolve().is_relative_to(ROOT):
        print("this interpreter imports our docket, not the reference", file=sys.stderr)
        return 2
    manifest = surface.describe("docket", LEFT_OUT, DIFFERENCES)
    manifest["reference"] = f"pydocket {manifest['version']}"
    OUTPUT.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUTPUT.relative_to(ROOT)} from pydocket {manifest['version']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
