"""``Suspend``: end the attempt, give the slot back, and run again from the top
later (``until`` a time) or when a signal comes (``for_signal``).

Suspension points are numbered by their order within the run: the n-th call of
``until``/``for_signal`` in the task body is point n. A point is kept in the
run's checkpoint (``s:<n>``, see ``docket._broker.steps``) with what it waits
for and since when; once it is satisfied, the same call returns at once on every
later attempt of the run, whatever arguments it is given then (``for_signal``
with the payload it received).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, ClassVar, NoReturn

from uncalled_for import Dependency

from .. import _clock, _defaults
from .._broker.steps import POINT, point_document
from .._errors import Suspended
from ._checkpoint import RunSteps
from ._context import current_execution

# A resumed attempt may arrive this early (a clock a little ahead): still on time.
_EARLY = _defaults.EARLY_MESSAGE_TOLERANCE.total_seconds()
_TTL = _defaults.CHECKPOINT_TTL.total_seconds()


def steps_ttl(until: float | None) -> int:
    """How long a checkpoint must live from now to outlast a suspension until
    ``until`` (epoch seconds; None: no end known) by ``CHECKPOINT_TTL``."""
    now = _clock.time()
    wait = 0.0 if until is None else max(0.0, until - now)
    return int(wait + _TTL) + 1


class Suspend(Dependency["Suspend"]):
    """Durable waits in the middle of a task (``suspend: Suspend = Suspend()``).

    ``await suspend.until(when)`` sleeps until ``when`` without holding a worker
    slot; ``await suspend.for_signal(name, timeout=None)`` waits for
    ``docket.signal(name, payload)`` and returns the payload. Either ends the
    current attempt (neither a failure nor a retry), parks the same key again and
    runs the task from the top when the time or the signal comes; points already
    satisfied return at once. The task must let the exception they raise through
    (never catch it). Not available to ``Isolated`` tasks.
    """

    single: bool = True
    isolated: ClassVar[bool] = False  # refused beside Isolated (see _tasks)

    def __init__(self) -> None:
        self._steps: RunSteps | None = None
        self._count = 0

    async def __aenter__(self) -> Suspend:
        bound = Suspend()
        bound._steps = await RunSteps.of(current_execution.get())
        return bound

    @property
    def _view(self) -> RunSteps:
        if self._steps is None:
            raise RuntimeError(
                "Suspend is only usable inside a task run by a docket worker"
            )
        return self._steps

    def _next_point(self) -> tuple[str, dict[str, Any] | None]:
        view = self._view
        self._count += 1
        field = f"{POINT}{self._count}"
        return field, point_document(view.fields.get(field))

    async def until(self, when: datetime) -> None:
        """Sleep until ``when`` (timezone-aware): the attempt ends now and the task
        runs again from the top at ``when``; this call then returns at once."""
        field, point = self._next_point()
        now = _clock.time()
        if point is not None:
            target = point.get("until")
            if point.get("done") or not isinstance(target, (int, float)):
                return  # satisfied (a signal point met here returns too)
            if now + _EARLY >= target:
                return
            self._suspend_until(field, point, float(target))
        if when.tzinfo is None:
            raise TypeError(
                "Suspend.until needs a timezone-aware datetime: "
                "use datetime.now(timezone.utc)"
            )
        target = when.timestamp()
        document = {"kind": "time", "until": target, "since": now}
        if target <= now:  # already past: kept as satisfied, no suspension
            document["done"] = True
            await self._view.write({field: json.dumps(document)})
            return
        self._suspend_until(field, document, target)

    def _suspend_until(
        self, field: str, document: dict[str, Any], target: float
    ) -> NoReturn:
        raise Suspended(until=target, steps={field: json.dumps(document)})

    def __repr__(self) -> str:
        return "Suspend()"
