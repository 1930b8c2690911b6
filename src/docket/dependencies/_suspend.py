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
from datetime import datetime, timedelta
from typing import Any

from uncalled_for import Dependency

from .. import _clock, _defaults
from .._broker.mailbox import RECEIVED, TIMED_OUT, check_signal_name, open_payload
from .._broker.steps import PAYLOAD, POINT, point_document
from .._errors import SignalTimeout, Suspended, UnverifiedPayload
from ._blips import through_blips
from ._checkpoint import OnRunSteps

# A resumed attempt may arrive this early (a clock a little ahead): still on time.
_EARLY = _defaults.EARLY_MESSAGE_TOLERANCE.total_seconds()
_TTL = _defaults.CHECKPOINT_TTL.total_seconds()


def _payload(field: str) -> str:
    """Where point ``s:<n>`` keeps the payload its signal carried: ``p:<n>``."""
    return PAYLOAD + field[len(POINT) :]


def steps_ttl(until: float | None, forever: bool = False) -> int:
    """How long a checkpoint must live from now to outlast a suspension until
    ``until`` (epoch seconds) by ``CHECKPOINT_TTL``; a wait without an end
    (``forever``: a signal without a timeout) keeps it ``SUSPEND_HORIZON``."""
    if forever:
        return int(_defaults.SUSPEND_HORIZON.total_seconds())
    wait = 0.0 if until is None else max(0.0, until - _clock.time())
    return int(wait + _TTL) + 1


class Suspend(OnRunSteps, Dependency["Suspend"]):
    """Durable waits in the middle of a task (``suspend: Suspend = Suspend()``).

    ``await suspend.until(when)`` sleeps until ``when`` without holding a worker
    slot; ``await suspend.for_signal(name, timeout=None)`` waits for
    ``docket.signal(name, payload)`` and returns the payload. Either ends the
    current attempt (neither a failure nor a retry), parks the same key again and
    runs the task from the top when the time or the signal comes; points already
    satisfied return at once. The task must let the exception they raise through
    (never catch it). Not available to ``Isolated`` tasks.
    """

    def __init__(self) -> None:
        self._count = 0

    def _next_point(self) -> tuple[str, dict[str, Any] | None]:
        view = self._view
        self._count += 1
        field = f"{POINT}{self._count}"
        return field, point_document(view.fields.get(field))

    async def until(self, when: datetime) -> None:
        """Sleep until ``when`` (timezone-aware): the attempt ends now and the task
        runs again from the top at ``when``; this call then returns at once."""
        field, point = self._next_point()
        if point is not None:
            await self._resume(field, point)
            return
        if when.tzinfo is None:
            raise TypeError(
                "Suspend.until needs a timezone-aware datetime: "
                "use datetime.now(timezone.utc)"
            )
        now, target = _clock.time(), when.timestamp()
        document: dict[str, Any] = {"kind": "time", "until": target, "since": now}
        if target <= now:  # already past: kept as satisfied, no suspension
            document["done"] = True
            await self._view.write({field: json.dumps(document)})
            return
        raise Suspended(until=target, steps={field: json.dumps(document)})

    async def for_signal(self, name: str, timeout: timedelta | None = None) -> Any:
        """Wait for ``docket.signal(name, payload)`` and return the payload: the
        attempt ends now (unless the signal was sent already and kept: then it
        returns at once) and the task runs again from the top when it comes; this
        call then returns its payload. After ``timeout`` it raises
        ``SignalTimeout`` (a ``Retry`` of the task waits again)."""
        field, point = self._next_point()
        if point is not None:
            return await self._resume(field, point)
        check_signal_name(name)
        if timeout is not None and (
            not isinstance(timeout, timedelta) or timeout.total_seconds() <= 0  # pyright: ignore[reportUnnecessaryIsInstance]
        ):
            raise ValueError(
                f"for_signal's timeout is a positive timedelta, not {timeout!r}"
            )
        view, now = self._view, _clock.time()
        deadline = None if timeout is None else now + timeout.total_seconds()
        document: dict[str, Any] = {
            "kind": "signal",
            "signal": name,
            "since": now,
            "deadline": deadline,
        }
        done = json.dumps({**document, "done": True})
        steps = view.docket.broker.steps
        kept = await through_blips(
            lambda: steps.take(
                view.key,
                view.generation,
                (field, _payload(field), done),
                name,
                steps_ttl(None),
            )
        )
        if kept is not None:  # sent before anyone waited: no suspension
            view.fields.update({field: done.encode(), _payload(field): kept})
            return self._open(name, kept)
        raise Suspended(
            until=None,
            steps={field: json.dumps(document)},
            signal=name,
            timeout=deadline,
            fresh=True,
        )

    async def _resume(self, field: str, point: dict[str, Any]) -> Any:
        """Point ``field`` on a later attempt: satisfied (return at once), or not
        yet (wait again: a resumed attempt that came early, a redelivery)."""
        view = self._view
        signal = point.get("signal")
        if point.get("done"):
            raw = view.fields.get(_payload(field))
            return (
                None
                if raw is None or not isinstance(signal, str)
                else self._open(signal, raw)
            )
        if not isinstance(signal, str):  # a durable sleep
            target = point.get("until")
            if not isinstance(target, (int, float)) or _clock.time() + _EARLY >= target:
                return None
            raise Suspended(until=float(target), steps={})
        deadline = point.get("deadline")
        deadline = float(deadline) if isinstance(deadline, (int, float)) else None
        mailbox = view.docket.broker.mailbox
        waits = await through_blips(lambda: mailbox.received(view.key))
        wait = waits.get(signal)
        if wait is not None and wait.mark == RECEIVED and wait.payload is not None:
            value = self._open(signal, wait.payload)
            done = json.dumps({**point, "done": True})
            await view.write({field: done, _payload(field): wait.payload})
            return value
        timed_out = wait is not None and wait.mark == TIMED_OUT
        if timed_out or (deadline is not None and _clock.time() >= deadline):
            await view.write({field: "{}"})  # dropped: a retry of the run waits again
            raise SignalTimeout(
                f"task {view.key!r} waited for signal {signal!r} until "
                f"{datetime.fromtimestamp(deadline or 0.0).astimezone():%Y-%m-%d %H:%M:%S %Z}, "
                "and it did not come"
            )
        raise Suspended(until=None, steps={}, signal=signal, timeout=deadline)

    def _open(self, name: str, raw: bytes) -> Any:
        """A signal's payload, verified for this docket and name (a forged or
        tampered one raises ``UnverifiedPayload``)."""
        try:
            return open_payload(self._view.docket.codec, name, raw)
        except ValueError as refused:
            raise UnverifiedPayload(
                f"Signal {name!r} of task {self._view.key!r} was refused: {refused}"
            ) from None

    def __repr__(self) -> str:
        return "Suspend()"
