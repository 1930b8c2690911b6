"""Run ONE execution: control flow only (metrics, spans and logs live in _observe)."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from opentelemetry import trace
from redis.exceptions import RedisError
from uncalled_for import FailedDependency

from .. import _codec, _defaults
from .._broker import Failure
from .._broker.history import failed_attempt_note
from .._calling import bind_executor, call_task
from .._errors import Abandoned as Abandoned
from .._errors import SignalTimeout, Suspended
from .._redis.faults import Fault, classify
from .._results import store_value
from ..dependencies._base import (
    AdmissionBlocked,
    CompletionHandler,
    FailureHandler,
    Runtime,
    TaskOutcome,
)
from ..dependencies._context import current_docket, current_execution, current_worker
from ..dependencies._isolated import Isolated
from ..dependencies._resolution import (
    get_single_dependency_of_type,
    has_dependencies,
    resolved_dependencies,
)
from ..execution import Execution, ExecutionState
from ..instrumentation import span, tracing_enabled
from . import report, suspending
from .isolation import run_isolated
from .resilience import backoff_for, pause, reached, report_fault, until_done
from .session import Running, Session

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import ExceptionGroup  # pyright: ignore[reportMissingImports]


async def run(session: Session, held: Running) -> None:
    """Run one claimed execution to its settlement; never raises for task errors."""
    execution = held.execution
    started = time.monotonic()
    try:
        report.started(session, execution)
        if tracing_enabled():
            with span(
                "docket.worker",
                execution.function_name,
                report.span_attributes(session, execution),
                trace.SpanKind.CONSUMER,
                execution.incoming_span_links(),
            ) as task_span:
                await _run_in_span(session, held, started, task_span)
        else:
            await _run_in_span(session, held, started, None)
    except Exception as error:  # recording the outcome failed (Redis is down?)
        report.unrecorded(session, execution, error)
        session.release(held)
    except asyncio.CancelledError:
        # Its asyncio task was cancelled from outside (a forced stop, or
        # asyncio.run() cancelling every task as it ends): nothing settles it here,
        # so its message stays pending for redelivery and its slot is given back
        # (a graceful drain must not wait for it).
        session.release(held)
        raise
    finally:
        duration = time.monotonic() - started
        session.note_duration(duration)
        report.finished(session, execution, duration)


async def _run_in_span(
    session: Session, held: Running, started: float, task_span: Any
) -> None:
    execution = held.execution
    worker = session.worker
    tokens = (
        current_docket.set(session.docket),
        current_worker.set(worker),
        current_execution.set(execution),
    )
    try:
        if not worker.dependencies and _plain(session, execution.function):
            await _run_plain(session, held, started, task_span)
        else:
            await _run_with_dependencies(session, held, started, task_span)
    except asyncio.CancelledError:
        if not held.cancel_requested and _stopping(session):
            raise  # the worker is stopping: leave the message for redelivery
        if held.cancel_requested or _cancelling():
            _uncancel()
        # Cancelled by docket.cancel(), or the body raised CancelledError itself:
        # the run ends cancelled (and a Perpetual chain ends with it).
        report.cancelled(session, execution, time.monotonic() - started)
        await _settle(session, held, ExecutionState.CANCELLED, wait=False)
    except AdmissionBlocked as blocked:
        await _admission_blocked(session, held, blocked)
    finally:
        current_execution.reset(tokens[2])
        current_worker.reset(tokens[1])
        current_docket.reset(tokens[0])


def _plain(session: Session, function: Any) -> bool:
    """Whether ``function`` declares no dependencies (looked up once per function
    and session: the fast path is decided for every task)."""
    plain = session.plain_tasks.get(function)  # tasks are hashable (registered)
    if plain is None:
        plain = session.plain_tasks[function] = not has_dependencies(function)
    return plain


def _stopping(session: Session) -> bool:
    """Whether this task's cancellation comes from the worker stopping (a forced
    stop, or asyncio.run() cancelling every task after the run was cancelled), as
    opposed to a task that cancelled its own asyncio task or raised
    CancelledError itself while the worker runs on: those end cancelled, once."""
    return session.stop.is_set() and _cancelling()


def _cancelling() -> bool:
    cancelling = getattr(asyncio.current_task(), "cancelling", None)
    return cancelling is None or cancelling() > 0


def _uncancel() -> None:
    task = asyncio.current_task()
    uncancel = getattr(task, "uncancel", None)
    if uncancel is not None:
        uncancel()


async def _settle(
    session: Session,
    held: Running,
    state: ExecutionState,
    error: str = "",
    stored: bool = False,
    wait: bool = False,
    failure: Failure | None = None,
) -> None:
    execution = held.execution
    execution.acknowledged = True
    execution.progress.discard_pending()  # never written after the settlement
    settlement = execution.settlement(state, error, stored, failure=failure)
    if held.cancel_requested and state is not ExecutionState.CANCELLED:
        # It caught its CancelledError and finished: its outcome stands.
        settlement = dataclasses.replace(settlement, ignored_cancel=True)
    future = session.settle(held, settlement, wait)
    if future is not None:
        await future
    execution.state = state


async def _run_plain(
    session: Session, held: Running, started: float, task_span: Any
) -> None:
    """The fast path: a task without dependencies, settled without waiting."""
    execution = held.execution
    try:
        result = await call_task(
            execution.function, execution.args, execution.kwargs, session.executor
        )
        stored = await _store_result(session, execution, result)
    except Exception as error:
        await _failed(session, held, error, time.monotonic() - started, None, task_span)
        return
    report.succeeded(session, execution, time.monotonic() - started, task_span)
    await _settle(session, held, ExecutionState.COMPLETED, stored=stored)


async def _store_result(session: Session, execution: Execution, result: Any) -> bool:
    if result is None or execution.docket.ttl_seconds <= 0:
        return False
    # A result the codec cannot serialize fails the run.
    generation = await _outcome_generation(session, execution)
    document = execution.docket.codec.result_document(execution.key, result, generation)
    stored = await until_done(
        session,
        "store a result",
        lambda: store_value(execution.docket, result_key(execution), document),
    )
    return stored is not None


async def _outcome_generation(session: Session, execution: Execution) -> int:
    """The run a stored outcome is signed for: the message's generation; for a
    generation-0 message (written without a run record, e.g. by another language)
    the run record's, which is what get_result checks it against. Read only then,
    with signing keys and a result store: native messages cost nothing more."""
    docket = execution.docket
    if execution.generation or not docket.codec.signing or docket.ttl_seconds <= 0:
        return execution.generation
    current = await until_done(
        session,
        "read a run generation",
        lambda: docket.broker.runs.generation(execution.key),
    )
    return current or 0


async def _run_with_dependencies(
    session: Session, held: Running, started: float, task_span: Any
) -> None:
    execution = held.execution
    resolved: dict[str, Any] = {}
    try:
        async with resolved_dependencies(session.worker, execution) as resolved:
            _raise_failures(resolved)
            runtime = get_single_dependency_of_type(resolved, Runtime)
            kwargs = {**execution.kwargs, **resolved}
            isolated = get_single_dependency_of_type(resolved, Isolated)
            if isolated is not None:
                result = await run_isolated(
                    session.isolation,
                    execution,
                    isolated,
                    runtime,
                    kwargs,
                    resolved,
                    session.worker,
                )
            elif runtime is not None:
                body = bind_executor(execution.function, session.executor)
                result = await runtime.run(execution, body, execution.args, kwargs)
            else:
                result = await call_task(
                    execution.function, execution.args, kwargs, session.executor
                )
            duration = time.monotonic() - started
            report.succeeded(session, execution, duration, task_span)
            outcome = TaskOutcome(duration=timedelta(seconds=duration), result=result)
            handler = get_single_dependency_of_type(resolved, CompletionHandler)
            if handler is not None:
                held.followed_up = True
                try:
                    handled = await _follow_up(session, execution, handler, outcome)
                except Abandoned:
                    raise
                except Exception as error:  # its failure ends the run, once
                    report.handler_failed(session, execution, handler, error)
                    await _store_and_fail(session, held, error, logged=True)
                    return
                if handled:
                    await _settle(session, held, ExecutionState.COMPLETED, wait=True)
                    return
            stored = await _store_result(session, execution, result)
            await _settle(
                session, held, ExecutionState.COMPLETED, stored=stored, wait=True
            )
    except (AdmissionBlocked, asyncio.CancelledError, Abandoned):
        raise
    except Suspended as suspended:
        await _suspended(session, held, suspended, time.monotonic() - started)
    except Exception as error:
        await _failed(
            session, held, error, time.monotonic() - started, resolved, task_span
        )


async def _suspended(
    session: Session, held: Running, suspended: Suspended, duration: float
) -> None:
    """``Suspend`` ended the attempt: park the key again (through Redis blips, as a
    retry is) and give the slot back; neither a failure nor a retry."""
    execution = held.execution
    await _through_blips(
        session,
        execution,
        f"suspend {execution.function_name}",
        lambda: suspending.park(execution, suspended),
    )
    report.suspended(session, execution, duration, suspending.waits_for(suspended))
    session.release(held)


def result_key(execution: Execution) -> str:
    """Where this run's result or exception is stored: ``K:<generation>`` (as
    pydocket 0.27 does), so each run of a key keeps its own outcome."""
    return f"{execution.key}:{execution.generation}"


def _redis_trouble(error: Exception) -> bool:
    return classify(error) is Fault.TRANSIENT and isinstance(
        error, (RedisError, ConnectionError, TimeoutError)
    )


async def _follow_up(
    session: Session,
    execution: Execution,
    handler: CompletionHandler,
    outcome: TaskOutcome,
) -> bool:
    """``handler.on_complete(...)`` (a Perpetual scheduling its successor), tried
    again while Redis fails it: the execution keeps its slot and its lease in the
    meantime, as a settlement does, so a Redis blip never ends a perpetual chain.
    Other errors are raised (the run then fails, once). When the worker stops
    before Redis answers, ``Abandoned`` leaves the message for redelivery."""
    return await _through_blips(
        session,
        execution,
        f"follow up {execution.function_name}",
        lambda: handler.on_complete(execution, outcome),
    )


async def _retry_or_not(
    session: Session,
    execution: Execution,
    handler: FailureHandler,
    outcome: TaskOutcome,
) -> bool:
    """``handler.handle_failure(...)`` (a Retry scheduling the next attempt),
    tried again while Redis fails it, from the same attempt and due time each
    time, so a Redis blip never turns a retry into a failed run."""
    attempt, when = execution.attempt, execution.when

    async def handle() -> bool:
        execution.attempt, execution.when = attempt, when
        return await handler.handle_failure(execution, outcome)

    return await _through_blips(
        session, execution, f"retry {execution.function_name}", handle
    )


async def _through_blips(
    session: Session,
    execution: Execution,
    what: str,
    call: Callable[[], Awaitable[bool]],
) -> bool:
    backoff = backoff_for(session)
    cap = session.worker.redelivery_timeout.total_seconds() / 4
    while True:
        try:
            handled = await call()
        except Exception as error:
            if not _redis_trouble(error):
                raise
            report_fault(session, what, error)
            if session.stop.is_set() or not await pause(session, backoff, cap):
                raise Abandoned(str(error)) from error
            continue
        reached(session, what)
        return handled


def _raise_failures(resolved: dict[str, Any]) -> None:
    failures = [v for v in resolved.values() if isinstance(v, FailedDependency)]
    if not failures:
        return
    for failure in failures:
        if isinstance(failure.error, (AdmissionBlocked, Suspended)):
            raise failure.error  # (a Signal refusing a forged payload waits again)
    if len(failures) == 1 and isinstance(failures[0].error, SignalTimeout):
        raise failures[0].error  # the task's own failure, as its Signal documents
    names = ", ".join(f.parameter for f in failures)
    raise ExceptionGroup(
        f"Failed to resolve dependencies for parameter(s): {names}",
        [f.error for f in failures],
    )


async def _failed(
    session: Session,
    held: Running,
    error: Exception,
    duration: float,
    resolved: dict[str, Any] | None,
    task_span: Any,
) -> None:
    execution = held.execution
    report.failed(session, execution, error, task_span)
    outcome = TaskOutcome(duration=timedelta(seconds=duration), exception=error)
    completed = execution.state is ExecutionState.COMPLETED  # failed in teardown
    if resolved is not None and not completed:  # (an empty dict may hold extras)
        handler = get_single_dependency_of_type(resolved, FailureHandler)
        if handler is not None:  # one that reschedules (a retry) keeps this attempt
            execution.failed_attempt = failed_attempt_note(
                execution.attempt, execution.worker, execution.started_at, error
            )
        try:
            if handler is not None and await _retry_or_not(
                session, execution, handler, outcome
            ):
                await _safety_net(session, held)
                return
        except Abandoned:
            raise
        except Exception as failing:  # the handler broke: the failure stands
            report.handler_failed(session, execution, handler, failing)
        finally:
            execution.failed_attempt = None
        completion = get_single_dependency_of_type(resolved, CompletionHandler)
        if completion is not None and not held.followed_up:
            held.followed_up = True
            try:
                if await _follow_up(session, execution, completion, outcome):
                    await _store_and_fail(session, held, error, logged=True)
                    return
            except Abandoned:
                raise
            except Exception as failing:
                report.handler_failed(session, execution, completion, failing)
    if execution.acknowledged and not completed:  # a handler already settled it
        session.release(held)
        return
    await _store_and_fail(session, held, error, logged=False, duration=duration)


async def _store_and_fail(
    session: Session,
    held: Running,
    error: Exception,
    logged: bool,
    duration: float = 0.0,
) -> None:
    execution = held.execution
    if not logged:
        report.final_failure(session, execution, error, duration)
    generation = await _outcome_generation(session, execution)
    document = execution.docket.codec.exception_document(
        execution.key, error, generation
    )
    stored = (
        await until_done(
            session,
            "store an exception",
            lambda: store_value(execution.docket, result_key(execution), document),
        )
        is not None
    )
    error_type, message, trace = _codec.exception_parts(error)
    failure = Failure(
        error_type,
        message,
        trace,
        execution.attempt,
        session.worker.name,
        _codec.iso(execution.started_at) if execution.started_at else "",
    )
    await _settle(
        session,
        held,
        ExecutionState.FAILED,
        _codec.error_text(error),
        stored,
        wait=True,
        failure=failure,
    )


async def _admission_blocked(
    session: Session, held: Running, blocked: AdmissionBlocked
) -> None:
    execution = held.execution
    if blocked.handled or execution.acknowledged:
        await _safety_net(session, held)
        return
    if blocked.reschedule:
        delay = blocked.retry_delay or _defaults.ADMISSION_RESCHEDULE_DELAY
        report.admission(session, execution, "rescheduling")
        execution.when = _codec.now() + delay
        await execution.schedule(replace=True, reschedule_message=execution.message_id)
        session.release(held)
        return
    report.admission(session, execution, "dropping")
    await _settle(session, held, ExecutionState.CANCELLED, wait=True)


async def _safety_net(session: Session, held: Running) -> None:
    """A handler said it dealt with the message: if it left it unacknowledged, it
    ends FAILED with no error text rather than being redelivered."""
    if held.execution.acknowledged:
        session.release(held)
    else:
        await _settle(session, held, ExecutionState.FAILED, wait=True)
