"""Parking a suspended attempt (``Suspend.until`` / ``Suspend.for_signal``): the
same key goes back to wait, its checkpoint fields written in the same step, and
the attempt ends without counting as a failure or a retry."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

from .. import _clock
from .._broker.mailbox import SignalWait, wait_fields
from .._errors import Suspended
from ..dependencies._suspend import steps_ttl
from ..execution import Execution


async def park(execution: Execution, suspended: Suspended) -> bool:
    """Park ``execution``'s key again with its suspension point, in one
    schedule.lua call ("repark" mode: a cancel that raced the suspension wins):
    in the queue until ``suspended.until``, or WAITING for ``suspended.signal``
    (a signal kept meanwhile is consumed in the same step, and the key goes
    straight back to the stream). Returns True (the message is acknowledged)."""
    pairs: list[tuple[str, str]] = []
    if suspended.signal is not None:
        execution.when = _clock.utcnow()
        wait = SignalWait(suspended.signal, suspended.timeout, suspended.fresh)
        pairs += wait_fields([wait])
        ttl = steps_ttl(suspended.timeout, forever=suspended.timeout is None)
    else:
        until = suspended.until if suspended.until is not None else 0.0
        execution.when = datetime.fromtimestamp(until, timezone.utc)
        ttl = steps_ttl(until)
    request = execution.schedule_request(
        replace=True, reschedule_message=execution.message_id
    )
    pairs.append(("~steps_ttl", str(ttl)))
    pairs += [(f"~step:{name}", value) for name, value in suspended.steps.items()]
    request = dataclasses.replace(request, mode="repark", gate=tuple(pairs))
    placed = await execution.docket.broker.queue.place(request)
    execution.acknowledged = True
    execution.scheduled(placed, request.immediate)
    return True


def waits_for(suspended: Suspended) -> str:
    """What a suspended attempt waits for, for its log line."""
    if suspended.signal is not None:
        return f"waiting for signal {suspended.signal!r}"
    when = datetime.fromtimestamp(suspended.until or 0.0).astimezone()
    return f"until {when:%Y-%m-%d %H:%M:%S %Z}"
