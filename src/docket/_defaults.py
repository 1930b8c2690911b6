"""Every default value and DOCKET_* environment variable name, declared once,
and how a person writes a length of time for them.

``parse_duration`` is the one parser for every CLI option and ``DOCKET_*``
variable that takes a duration. Accepted: plain seconds (``90``, ``1.5``), a
number with a unit (``250ms``, ``5s``, ``10m``, ``2h``, ``1d``; fractions such as
``1.5m`` too, any case), ``mm:ss`` and ``hh:mm:ss``. Anything else, negative
values and lengths beyond ``MAX_CLI_DURATION`` are a ``ValueError`` that names
the accepted forms.
"""

import math
import os
import re
import socket
from datetime import timedelta

DOCKET_NAME = "docket"
DOCKET_URL = "redis://localhost:6379/0"
WORKER_GROUP = "docket-workers"

HEARTBEAT_INTERVAL = timedelta(seconds=2)
MISSED_HEARTBEATS = 5
EXECUTION_TTL = timedelta(minutes=15)

CONCURRENCY = 10
MESSAGE_BATCH = 1000  # most messages per read or redelivery sweep
# Read ahead (beyond the free slots) at most this many messages, and only while
# tasks typically finish within READ_AHEAD_BELOW (see _worker/claiming.py).
READ_AHEAD = 10
READ_AHEAD_BELOW = timedelta(milliseconds=20)
# While priority lanes hold tasks, a worker reads at most this many ahead, so a
# task of a higher priority never waits behind more than these (_worker/claiming.py).
LANES_READ_AHEAD = 1
# Aging: a task's effective priority rises one level per this long waited since it
# became due (Worker(priority_aging=...); docs/priorities-and-fairness.md).
PRIORITY_AGING = timedelta(seconds=60)
# How often a worker serving a FairShare task releases its backlogs on its own
# (claims and adds release as they go; this opens a window stale entries hold shut).
FAIR_RELEASE_INTERVAL = timedelta(milliseconds=500)
REDELIVERY_TIMEOUT = timedelta(minutes=5)
RECONNECTION_DELAY = timedelta(seconds=5)
MINIMUM_CHECK_INTERVAL = timedelta(milliseconds=250)
CLI_MINIMUM_CHECK_INTERVAL = timedelta(milliseconds=100)
SCHEDULING_RESOLUTION = timedelta(milliseconds=250)

MAX_DELIVERIES = 5  # deliveries of one message before it is dead-lettered
# From this delivery on, a message may be what keeps killing its workers: a worker
# runs at most one such message at a time (see _broker/sweep.py).
QUARANTINE_DELIVERIES = 3
# clear() withdraws at most this many tasks per script call (docket.docket.CLEAR_BATCH).
CLEAR_BATCH = 1000
DEAD_LETTER_LIMIT = 10_000  # entries P:dead keeps (the oldest go first)
BACKOFF_CAP = timedelta(seconds=30)
# While Redis is unreachable: one cheap PING this often tells every backed-off
# loop it is back, and a reminder that it is still out is logged this often.
REDIS_PROBE_INTERVAL = timedelta(milliseconds=250)
OUTAGE_REMINDER = timedelta(minutes=1)
# After trouble reaching Redis, a worker sweeps no expired lease until a renewal
# interval plus this long after its own leases were renewed (_worker/loop.py).
SWEEP_GRACE_EXTRA = timedelta(seconds=1)
# After a forced stop, how long to wait for tasks that ignore their cancellation.
ABANDON_GRACE = timedelta(seconds=5)  # the longest pause between retries after a fault

ADMISSION_RESCHEDULE_DELAY = timedelta(milliseconds=100)
PERPETUAL_LOCK_TIMEOUT = timedelta(seconds=10)
RESEED_INTERVAL = timedelta(seconds=60)
# A P:known:K marker left by an earlier pydocket release keeps its key live until
# this long after the marked due time (it is given that expiry when first seen).
LEGACY_MARKER_GRACE = timedelta(hours=1)
MIN_KEY_TTL = timedelta(seconds=1)
SNAPSHOT_CAP = 1000
MOVE_BATCH = 1000  # due tasks moved per scheduler script call
STRIKE_READ_COUNT = 100
STRIKE_BLOCK_MS = 60_000
LISTENER_RETRY = timedelta(seconds=1)
LISTENING_FLAG_TTL = timedelta(seconds=60)
PROGRESS_TOTAL = 100

# The failed tasks (P:failed) and the per-minute throughput counts.
FAILED_LIMIT = 10_000
FAILED_RETENTION = timedelta(days=7)
# How long a signal sent while no task waits for it is kept for one still to come.
SIGNAL_LOOKBACK = timedelta(days=1)
STATS_RETENTION = timedelta(hours=24)
STATS_FLUSH_INTERVAL = timedelta(seconds=1)  # counts reach Redis at most this late
TIMING_WINDOW = timedelta(minutes=10)  # runtime/queue-wait histograms per window
HISTORY_KEPT = 10  # attempts a run record remembers (start, end, outcome, traceback)
FAILED_SCAN = 2_000  # failed entries a filtered read examines per call

# The dashboard (docket dashboard, docket.web).
DASHBOARD_HOST = "127.0.0.1"
DASHBOARD_PORT = 8787
DASHBOARD_PAGE_SIZE = 50
DASHBOARD_TICK = timedelta(milliseconds=500)  # server-sent event interval
DASHBOARD_HOSTS = ("127.0.0.1", "localhost", "[::1]")  # always answered to
DASHBOARD_SESSION_LIFETIME = timedelta(hours=12)  # a sign-in lasts this long
DASHBOARD_LOGIN_FAILURES = 5  # failed sign-ins (or bearers) per address per window
DASHBOARD_LOGIN_WINDOW = timedelta(minutes=1)

# The trust boundary (docs/security.md).
SERIALIZER = "pickle"  # or "json"
MIN_SIGNING_KEY_BYTES = 16
# A message found in the stream more than this long before its `when` (it was copied
# there early, or its producer's clock is ahead) is parked until then, not run.
EARLY_MESSAGE_TOLERANCE = timedelta(seconds=1)
# A run's checkpoint (Checkpoint, Suspend) lives at least this long after its last
# write, and this long past the end of a suspension it waits through.
CHECKPOINT_TTL = timedelta(days=7)
# ... and this long while its run waits for a signal without a timeout.
SUSPEND_HORIZON = timedelta(days=365)
MIN_REDELIVERY_TIMEOUT = timedelta(milliseconds=100)
MAX_CLI_DURATION = timedelta(days=365)  # longest duration the CLI/env accept

STANDARD_TASKS = "docket.tasks:standard_tasks"
HTTP_HOST = "0.0.0.0"

ENV_NAME = "DOCKET_NAME"
ENV_URL = "DOCKET_URL"
ENV_WATCH_URL = "DOCKET_REDIS_URL"
ENV_TASKS = "DOCKET_TASKS"
ENV_WORKER_NAME = "DOCKET_WORKER_NAME"
ENV_LOGGING_LEVEL = "DOCKET_LOGGING_LEVEL"
ENV_LOGGING_FORMAT = "DOCKET_LOGGING_FORMAT"
ENV_CONCURRENCY = "DOCKET_WORKER_CONCURRENCY"
ENV_MESSAGE_BATCH = "DOCKET_WORKER_MESSAGE_BATCH"
ENV_DEPENDENCIES = "DOCKET_WORKER_DEPENDENCIES"
ENV_REDELIVERY_TIMEOUT = "DOCKET_WORKER_REDELIVERY_TIMEOUT"
ENV_RECONNECTION_DELAY = "DOCKET_WORKER_RECONNECTION_DELAY"
ENV_MINIMUM_CHECK_INTERVAL = "DOCKET_WORKER_MINIMUM_CHECK_INTERVAL"
ENV_SCHEDULING_RESOLUTION = "DOCKET_WORKER_SCHEDULING_RESOLUTION"
ENV_PRIORITY_AGING = "DOCKET_WORKER_PRIORITY_AGING"
ENV_INTERNAL_INSTRUMENTATION = "DOCKET_WORKER_ENABLE_INTERNAL_INSTRUMENTATION"
ENV_HEALTHCHECK_PORT = "DOCKET_WORKER_HEALTHCHECK_PORT"
ENV_METRICS_PORT = "DOCKET_WORKER_METRICS_PORT"
ENV_FALLBACK_TASK = "DOCKET_FALLBACK_TASK"
ENV_SCHEDULE_AUTOMATIC_TASKS = "DOCKET_WORKER_SCHEDULE_AUTOMATIC_TASKS"
ENV_SHUTDOWN_TIMEOUT = "DOCKET_WORKER_SHUTDOWN_TIMEOUT"
ENV_HTTP_HOST = "DOCKET_WORKER_HTTP_HOST"
ENV_MAX_DELIVERIES = "DOCKET_WORKER_MAX_DELIVERIES"
ENV_DEAD_LETTER_LIMIT = "DOCKET_DEAD_LETTER_LIMIT"
ENV_ISOLATED_PROCESSES = "DOCKET_WORKER_ISOLATED_PROCESSES"
ENV_MAX_TASKS_PER_CHILD = "DOCKET_WORKER_MAX_TASKS_PER_CHILD"
ENV_POOLS = "DOCKET_WORKER_POOLS"  # NAME=SIZE, separated by spaces or commas
ENV_FAILED_LIMIT = "DOCKET_FAILED_LIMIT"
ENV_FAILED_RETENTION = "DOCKET_FAILED_RETENTION"
ENV_DASHBOARD_TOKEN = "DOCKET_DASHBOARD_TOKEN"
ENV_DASHBOARD_HOST = "DOCKET_DASHBOARD_HOST"
ENV_DASHBOARD_PORT = "DOCKET_DASHBOARD_PORT"
ENV_DASHBOARD_ALLOWED_HOSTS = "DOCKET_DASHBOARD_ALLOWED_HOSTS"

ENV_SIGNING_KEYS = "DOCKET_SIGNING_KEYS"
ENV_SIGNING_KEYS_FILE = "DOCKET_SIGNING_KEYS_FILE"
# "1" accepts v1 signatures (which bind neither the docket nor the run) while a
# deployment upgrades; off by default (docs/security.md, upgrading signatures).
ENV_SIGNING_ACCEPT_V1 = "DOCKET_SIGNING_ACCEPT_V1"
ENV_SERIALIZER = "DOCKET_SERIALIZER"


def default_worker_name() -> str:
    """``<hostname>#<pid>``: the name of a worker that was given none."""
    return f"{socket.gethostname()}#{os.getpid()}"


UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
FORMS = "seconds (90, 1.5), a unit (250ms, 5s, 10m, 2h, 1d), mm:ss or hh:mm:ss"
_NUMBER_WITH_UNIT = re.compile(r"^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h|d)?$")
_CLOCK_PART = re.compile(r"^\d+$")
_CLOCK_SECONDS = re.compile(r"^\d+(?:\.\d+)?$")


def parse_duration(value: str | timedelta) -> timedelta:
    """``value`` as a timedelta (a timedelta passes through unchanged)."""
    if isinstance(value, timedelta):
        return value
    text = value.strip().lower()
    if ":" in text:
        parts = text.split(":")
        if (
            len(parts) > 3
            or not all(_CLOCK_PART.match(p) for p in parts[:-1])
            or not _CLOCK_SECONDS.match(parts[-1])
        ):
            raise ValueError(f"{value!r} is not a duration: use {FORMS}")
        seconds = 0.0
        for part in parts:
            seconds = seconds * 60 + float(part)
        return _bounded(value, seconds)
    match = _NUMBER_WITH_UNIT.match(text)
    if match is None:
        raise ValueError(f"{value!r} is not a duration: use {FORMS}")
    number, unit = match.groups()
    return _bounded(value, float(number) * UNITS[unit or "s"])


def _bounded(value: str, seconds: float) -> timedelta:
    """``seconds`` as a timedelta, refusing absurd lengths (no OverflowError)."""
    longest = MAX_CLI_DURATION
    if not math.isfinite(seconds) or seconds > longest.total_seconds():
        raise ValueError(
            f"{value!r} is too long: durations go up to {longest.days} days"
        )
    return timedelta(seconds=seconds)


__all__ = ["FORMS", "UNITS", "parse_duration"]
