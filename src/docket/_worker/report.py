"""What a worker records about each execution: metrics, span status and log lines."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from opentelemetry import trace
from uncalled_for import get_signature
from uncalled_for.introspection import _signature_cache  # pyright: ignore[reportPrivateUsage]

from .. import _codec, _defaults
from .. import instrumentation as m
from .._broker.dead import Rejection
from .._codec.message import identity
from .._redis import redact_url
from ..annotations import Annotation, compact_signature
from ..dependencies._context import format_duration
from ..execution import Execution
from .session import Session

logger = logging.getLogger("docket.worker")

# Who else hears how each attempt ended: called with (execution, outcome, error),
# outcome "succeeded", "failed" or "cancelled". docket.contrib.pytest's runner
# listens; empty otherwise (one loop over an empty list per task).
Listener = Callable[[Execution, str, "BaseException | None"], None]
outcome_listeners: list[Listener] = []


def _tell(execution: Execution, outcome: str, error: BaseException | None) -> None:
    for listener in outcome_listeners:
        listener(execution, outcome, error)


# Every instrument is looked up on ``docket.instrumentation`` at the moment it is
# used, so that an instrument replaced or wrapped there (by user code or a test)
# receives the calls. Without a meter provider they are OpenTelemetry's no-op
# proxies, a few hundred nanoseconds per call.


def worker_started(session: Session) -> None:
    """The start-up line: the worker's name, its docket and Redis URL (without
    its password) and every task it can run."""
    worker = session.worker
    docket = session.docket
    lines = [
        f"Starting worker {worker.name!r} on docket {docket.name!r} at "
        f"{redact_url(docket.url)} with the following tasks:"
    ]
    for name, function in session.docket.tasks.items():
        lines.append(f"* {name}({compact_signature(get_signature(function))})")
    logger.info("\n".join(lines), extra=worker.labels())
    if not session.docket.codec.signing:
        consequence = (
            "enqueue any task"
            if session.docket.codec.serializer == "json"
            else "run any code in this worker"
        )
        # INFO, as pydocket (which has no signing) logs its start-up: a worker
        # run at --logging-level WARNING stays as quiet as it was there.
        logger.info(
            "Task payloads are unsigned: anyone who can write to this docket's Redis "
            "keys can %s. Turn signing on with DOCKET_SIGNING_KEYS (or "
            "--signing-keys-file, or Docket(signing_keys=[...])); see "
            "docs/security.md",
            consequence,
            extra=worker.labels(),
        )
    elif session.docket.codec.accept_v1:
        logger.warning(
            "Accepting v1 signatures (%s is on): they bind neither the docket nor "
            "the run, so a message signed for another docket with the same keys "
            "runs here. Turn it off once the upgrade's backlog is gone; see "
            "docs/security.md",
            _defaults.ENV_SIGNING_ACCEPT_V1,
            extra=worker.labels(),
        )


def eviction_possible(session: Session, policy: str) -> None:
    """Redis may evict keys under memory pressure: say so once, at start-up."""
    logger.warning(
        "%s; see docs/production.md",
        eviction_note(policy),
        extra=session.worker.labels(),
    )


def eviction_note(policy: str) -> str:
    return (
        f"Redis's maxmemory-policy is {policy!r}, not 'noeviction': under memory "
        "pressure Redis deletes keys, and queued tasks, run records and results "
        "can vanish without a trace. Set maxmemory-policy to noeviction"
    )


def labels(session: Session, execution: Execution) -> dict[str, str]:
    """``docket.name``, ``docket.worker`` and ``docket.task`` (built once per task
    name and session; callers must not change it)."""
    name = execution.function_name
    cached = session.metric_labels.get(name)
    if cached is None:
        cached = {**session.worker.labels(), "docket.task": name}
        session.metric_labels[name] = cached
    return cached


def log_extra(session: Session, execution: Execution, **more: Any) -> dict[str, Any]:
    return {
        **session.worker.labels(),
        "docket.queue_key": session.docket.queue_key,
        "docket.stream_key": session.docket.stream_key,
        **execution.specific_labels(),
        **more,
    }


def span_attributes(session: Session, execution: Execution) -> dict[str, Any]:
    return {
        **session.worker.labels(),
        **execution.specific_labels(),
        "code.function.name": execution.function_name,
    }


_cache_sizes: dict[str, int] = {}
# The caches only grow when new functions are introspected: looking at most once
# a second keeps the gauge current without a cost on every task.
CACHE_CHECK_INTERVAL = 1.0
_next_cache_check = 0.0


def cache_sizes() -> None:
    """Set ``docket_cache_size`` for the introspection caches when they changed."""
    global _next_cache_check
    now = time.monotonic()
    if now < _next_cache_check:
        return
    _next_cache_check = now + CACHE_CHECK_INTERVAL
    for cache, size in (
        ("signature", len(_signature_cache)),
        ("annotation", Annotation.cache_size()),
    ):
        if _cache_sizes.get(cache) != size:
            _cache_sizes[cache] = size
            m.CACHE_SIZE.set(size, {"cache": cache})


def started(session: Session, execution: Execution) -> None:
    punctuality = (_codec.now() - execution.when).total_seconds()
    cache_sizes()
    tags = labels(session, execution)
    m.TASKS_STARTED.add(1, tags)
    if execution.redelivered:
        m.TASKS_REDELIVERED.add(1, tags)
    m.TASKS_RUNNING.add(1, tags)
    m.TASK_PUNCTUALITY.record(max(punctuality, 0.0), tags)
    if logger.isEnabledFor(logging.INFO):
        arrow = "↬" if execution.attempt > 1 else "↪"
        logger.info(
            "%s [%s] %s",
            arrow,
            format_duration(max(punctuality, 0.0)),
            execution.call_repr(),
            extra=log_extra(session, execution, punctuality=punctuality),
        )


def finished(session: Session, execution: Execution, duration: float) -> None:
    tags = labels(session, execution)
    m.TASKS_RUNNING.add(-1, tags)
    m.TASKS_COMPLETED.add(1, tags)
    m.TASK_DURATION.record(duration, tags)


def succeeded(
    session: Session, execution: Execution, duration: float, span: Any
) -> None:
    m.TASKS_SUCCEEDED.add(1, labels(session, execution))
    if outcome_listeners:
        _tell(execution, "succeeded", None)
    if span is not None:
        span.set_status(trace.Status(trace.StatusCode.OK))
    if logger.isEnabledFor(logging.INFO):
        logger.info(
            "↩ [%s] %s",
            format_duration(duration),
            execution.call_repr(),
            extra=log_extra(session, execution, duration=duration),
        )


def failed(
    session: Session, execution: Execution, error: BaseException, span: Any
) -> None:
    m.TASKS_FAILED.add(1, labels(session, execution))
    if outcome_listeners:
        _tell(execution, "failed", error)
    if span is not None:
        span.record_exception(error)
        span.set_status(trace.Status(trace.StatusCode.ERROR, str(error)))


def final_failure(
    session: Session, execution: Execution, error: BaseException, duration: float
) -> None:
    """The one ERROR line of a failed task, with its traceback; after retries,
    it says how many attempts were made (the retried ones logged one line each,
    without a traceback)."""
    attempts = execution.attempt
    logger.error(
        "↩ [%s] %s failed" + (" (gave up after %d attempts)" if attempts > 1 else ""),
        format_duration(duration),
        execution.call_repr(),
        *((attempts,) if attempts > 1 else ()),
        exc_info=error,
        extra=log_extra(session, execution, duration=duration),
    )


def cancelled(session: Session, execution: Execution, duration: float) -> None:
    if outcome_listeners:
        _tell(execution, "cancelled", None)
    logger.info(
        "✗ [%s] %s (cancelled)",
        format_duration(duration),
        execution.call_repr(),
        extra=log_extra(session, execution, duration=duration),
    )


def struck(session: Session, execution: Execution) -> None:
    logger.warning("🗙 %s", execution.call_repr(), extra=log_extra(session, execution))
    m.TASKS_STRICKEN.add(1, {**labels(session, execution), "docket.where": "worker"})


def superseded(session: Session, execution: Execution) -> None:
    logger.info(
        "↬ %s (superseded)", execution.call_repr(), extra=log_extra(session, execution)
    )
    m.TASKS_SUPERSEDED.add(1, {**labels(session, execution), "docket.where": "worker"})


def suspended(
    session: Session, execution: Execution, duration: float, what: str
) -> None:
    """An attempt that ended in ``Suspend.until`` / ``for_signal`` (``what`` it
    waits for): its key waits again, no slot held."""
    if logger.isEnabledFor(logging.INFO):
        logger.info(
            "⏸ [%s] %s suspended: %s",
            format_duration(duration),
            execution.call_repr(),
            what,
            extra=log_extra(session, execution, duration=duration),
        )


def parked_early(session: Session, execution: Execution, parked: bool) -> None:
    """A message found in the stream before its time: parked until then, or only
    acknowledged when its run record says it was superseded or cancelled."""
    outcome = "parked until then" if parked else "dropped (superseded or cancelled)"
    logger.warning(
        "Task %r (key %r) was in the stream %s before it is due, %s: a message "
        "reaches the stream only when due (was it copied there, or is its "
        "producer's clock ahead?)",
        execution.function_name,
        execution.key,
        _roughly((execution.when - _codec.now()).total_seconds()),
        outcome,
        extra=log_extra(session, execution),
    )


def _roughly(seconds: float) -> str:
    """A duration in its largest whole unit: 3s, 5m, 2h, 6d."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size:.0f}{unit}"
    return f"{max(seconds, 0):.0f}s"


def parked_dead_lettered(session: Session, count: int) -> None:
    """Future tasks whose parked copy was not a hash, moved to the dead letters
    by the scheduler (stream_due.lua) instead of into the stream."""
    logger.error(
        "Dead-lettered %d due task(s) whose parked copy is not a hash "
        "(bad-parked-task; see the dead-letter stream)",
        count,
        extra=session.worker.labels(),
    )
    m.TASKS_DEAD_LETTERED.add(
        count, {**session.worker.labels(), "docket.reason": "bad-parked-task"}
    )


def backlog_dead_lettered(session: Session, reason: str, count: int) -> None:
    """FairShare tasks that could not leave their backlog (their parked copy or run
    record missing or not a hash), moved to the dead letters by a fair release."""
    logger.error(
        "Dead-lettered %d FairShare task(s) waiting in a backlog (%s; see the "
        "dead-letter stream)",
        count,
        reason,
        extra=session.worker.labels(),
    )
    m.TASKS_DEAD_LETTERED.add(
        count, {**session.worker.labels(), "docket.reason": reason}
    )


def admission(session: Session, execution: Execution, action: str) -> None:
    symbol = "⏳" if action == "rescheduling" else "⏭"
    logger.debug(
        "%s Task %s blocked by admission control, %s",
        symbol,
        execution.key,
        action,
        extra=log_extra(session, execution),
    )


def dead_lettered(
    session: Session, rejection: Rejection, fields: dict[bytes, bytes]
) -> None:
    """One ERROR line and one count per message moved to the dead-letter stream."""
    key, function, _ = identity(fields)
    logger.error(
        "Dead-lettered message %s of task %r (key %r): %s: %s",
        rejection.message_id.decode(errors="replace"),
        function,
        key,
        rejection.reason,
        rejection.detail,
        extra={
            **session.worker.labels(),
            "docket.key": key,
            "docket.task": function,
            "docket.dead_reason": rejection.reason,
        },
    )
    m.TASKS_DEAD_LETTERED.add(
        1, {**session.worker.labels(), "docket.reason": rejection.reason}
    )


def handler_failed(
    session: Session, execution: Execution, handler: object, error: BaseException
) -> None:
    logger.error(
        "%s of %s raised; the run ends failed",
        type(handler).__name__,
        execution.call_repr(),
        exc_info=error,
        extra=log_extra(session, execution),
    )


def unrecorded(session: Session, execution: Execution, error: BaseException) -> None:
    logger.warning(
        "Could not record the outcome of %s (%s); it will be redelivered",
        execution.call_repr(),
        error,
        extra=log_extra(session, execution),
    )
