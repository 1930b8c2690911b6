"""``DocketRunner``: a worker for tests that runs what is due, then returns, and
remembers every attempt it ran for the assertion helpers.

    async with DocketRunner(docket) as runner:
        await docket.add(send_email)("a@example.com")
        await runner.until_idle()
        runner.assert_ran(send_email, "a@example.com")
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any

from .. import _clock, testing
from .._worker import report
from ..docket import Docket
from ..execution import Execution
from ..worker import Worker

__all__ = ["DocketRunner", "Run"]

TaskRef = str | Callable[..., Any]

# Attempts one until_idle() may run before it is taken for a task that keeps
# scheduling itself for the moment it runs in.
MAX_RUNS = 10_000


class _RunnerWorker(Worker):
    # Read by the worker's main loop: a run until finished ends once nothing is
    # due (tasks scheduled later do not hold it), under any clock.
    stops_when_idle = True


@dataclass(frozen=True)
class Run:
    """One attempt the runner ran: the call, when it was due, how it ended."""

    function_name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    key: str
    attempt: int
    when: datetime
    outcome: str  # "succeeded", "failed" or "cancelled"
    error: BaseException | None = field(default=None, compare=False)

    def call(self) -> str:
        parts = [repr(a) for a in self.args]
        parts += [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.function_name}({', '.join(parts)})"

    def describe(self) -> str:
        mark = {"succeeded": "ok", "failed": "FAILED", "cancelled": "cancelled"}
        line = (
            f"{self.call()} due {self.when:%Y-%m-%d %H:%M:%S} "
            f"attempt {self.attempt}: {mark.get(self.outcome, self.outcome)}"
        )
        if self.error is not None:
            line += f" ({type(self.error).__name__}: {self.error})"
        return line


def _name(task: TaskRef) -> str:
    return task if isinstance(task, str) else task.__name__


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


class DocketRunner:
    """A worker for ``docket`` that tests drive: ``until_idle()`` runs everything
    due now (and what that schedules for now) and returns when nothing is due.
    Every attempt it runs is kept in ``runs``."""

    def __init__(self, docket: Docket, **worker_options: Any) -> None:
        self.docket = docket
        self.worker: Worker = _RunnerWorker(docket, **worker_options)
        self.runs: list[Run] = []
        self._open = False
        self._budget: int | None = None  # runs left in this until_idle()

    async def __aenter__(self) -> DocketRunner:
        await self.worker.__aenter__()
        report.outcome_listeners.append(self._heard)
        self._open = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._open = False
        if self._heard in report.outcome_listeners:
            report.outcome_listeners.remove(self._heard)
        await self.worker.__aexit__(exc_type, exc, tb)

    def _heard(self, execution: Execution, outcome: str, error: Any) -> None:
        if execution.docket is not self.docket:
            return
        self.runs.append(
            Run(
                execution.function_name,
                tuple(execution.args),
                dict(execution.kwargs),
                execution.key,
                execution.attempt,
                execution.when,
                outcome,
                error,
            )
        )
        if self._budget is not None:
            self._budget -= 1
            if self._budget == 0:  # a chain that never lets time move on
                self.worker.stop()

    async def until_idle(self, max_runs: int = MAX_RUNS) -> None:
        """Run what is due now, and what that schedules for now; return when
        nothing due is left and nothing runs. Tasks due later stay queued.

        More than ``max_runs`` attempts in one call stop the worker and raise
        RuntimeError: a task that keeps scheduling itself for now would
        otherwise hold the call forever."""
        if not self._open:
            raise RuntimeError("Use 'async with DocketRunner(docket)' before running")
        self._budget = max_runs
        spent = False
        try:
            # A run's teardown (a concurrency slot's release waking a waiter) may
            # queue work after the worker saw nothing due: look again after it.
            while True:
                await self.worker.run_until_finished()
                spent = self._spent()
                if spent or not await self.docket.broker.queue.pending_work(
                    due_by=_clock.time()
                ):
                    break
        finally:
            self._budget = None
        if spent:
            raise RuntimeError(
                f"until_idle() stopped after {max_runs} runs with work still due: "
                "does a task keep scheduling itself for now (a Perpetual without "
                "every, a retry without delay)?"
            )

    def _spent(self) -> bool:
        return self._budget is not None and self._budget <= 0

    # ---- what ran ----------------------------------------------------------------

    def runs_of(self, task: TaskRef) -> list[Run]:
        name = _name(task)
        return [run for run in self.runs if run.function_name == name]

    def _matching(
        self, task: TaskRef, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> list[Run]:
        """Runs of ``task`` with exactly ``args`` (when given) and at least the
        given ``kwargs``."""
        missing = object()
        return [
            run
            for run in self.runs_of(task)
            if (not args or run.args == args)
            and all(run.kwargs.get(k, missing) == v for k, v in kwargs.items())
        ]

    def _report(self, headline: str, runs: Sequence[Run], of: str) -> AssertionError:
        if runs:
            listing = "\n".join(f"  - {run.describe()}" for run in runs)
            detail = f"Runs of {of} ({len(runs)}):\n{listing}"
        elif self.runs:
            names = sorted({run.function_name for run in self.runs})
            detail = f"No runs of {of}; what ran: {', '.join(names)}"
        else:
            detail = "Nothing ran."
        return AssertionError(f"{headline}\n\n{detail}")

    def _wanted(
        self, task: TaskRef, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> str:
        if not args and not kwargs:
            return _name(task)
        parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
        return f"{_name(task)}({', '.join(parts)})"

    def assert_ran(
        self, task: TaskRef, /, *args: Any, times: int | None = None, **kwargs: Any
    ) -> None:
        """``task`` ran (any outcome) with these arguments: at least once, or
        exactly ``times`` times. No arguments: any call of ``task`` counts."""
        found = self._matching(task, args, kwargs)
        if (times is None and found) or len(found) == times:
            return
        expected = "at least once" if times is None else _times(times)
        wanted = self._wanted(task, args, kwargs)
        raise self._report(
            f"Expected {wanted} to run {expected}; it ran {_times(len(found))}",
            self.runs_of(task),
            _name(task),
        )

    def assert_not_ran(self, task: TaskRef, /, *args: Any, **kwargs: Any) -> None:
        """No attempt of ``task`` (with these arguments, if given) ran."""
        found = self._matching(task, args, kwargs)
        if found:
            wanted = self._wanted(task, args, kwargs)
            raise self._report(
                f"Expected {wanted} not to run; it ran {_times(len(found))}",
                found,
                _name(task),
            )

    def assert_failed(
        self,
        task: TaskRef,
        /,
        error: type[BaseException] = Exception,
        *,
        times: int | None = None,
    ) -> None:
        """Attempts of ``task`` failed with ``error`` (or a subclass): at least
        one, or exactly ``times``."""
        found = [
            run
            for run in self.runs_of(task)
            if run.outcome == "failed" and isinstance(run.error, error)
        ]
        if (times is None and found) or len(found) == times:
            return
        expected = "at least once" if times is None else _times(times)
        raise self._report(
            f"Expected {_name(task)} to fail with {error.__name__} {expected}; "
            f"it did {_times(len(found))}",
            self.runs_of(task),
            _name(task),
        )

    async def assert_scheduled(
        self, task: TaskRef, /, *args: Any, key: str | None = None, **kwargs: Any
    ) -> None:
        """A call of ``task`` (with these arguments, if given) waits to run."""
        await testing.assert_task_scheduled(
            self.docket,
            task,
            args=args or None,
            kwargs=kwargs or None,
            key=key,
        )

    async def assert_not_scheduled(
        self, task: TaskRef, /, *args: Any, key: str | None = None, **kwargs: Any
    ) -> None:
        """No call of ``task`` (with these arguments, if given) waits to run."""
        await testing.assert_task_not_scheduled(
            self.docket,
            task,
            args=args or None,
            kwargs=kwargs or None,
            key=key,
        )

    async def assert_nothing_scheduled(self) -> None:
        """Nothing waits on the docket."""
        await testing.assert_no_tasks(self.docket)
