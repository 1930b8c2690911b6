"""Intake: the one place a delivered stream entry becomes an Execution, or is refused.

Anyone who can write to Redis can put anything in the stream, so each entry is
checked on its own, every step under one ``try``: the delivery count, the envelope
and the arguments (``_codec.message``), their signature (checked before anything is
unpickled), unpickling, and the strike check. A problem with
one entry refuses that entry only, as a ``Rejection`` with a reason the caller
dead-letters; its batch-mates go on. Everything downstream (claim, runner, reports)
receives only executions that decoded cleanly.

A message is in the stream only once it is due, so one whose ``when`` is still
ahead (by more than ``EARLY_MESSAGE_TOLERANCE``, which absorbs clock skew) was
copied there early, or its producer's clock runs ahead: it is set aside as
``early``, and the caller parks it until its time instead of running it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import _codec, _defaults
from .._broker import Delivery
from .._broker.dead import Rejection
from .._codec.message import MalformedMessage, UnverifiedMessage
from ..execution import Execution
from .session import Session

# Reason categories (the ``docket.reason`` label of docket_tasks_dead_lettered).
MAX_DELIVERIES = "max-deliveries"
MALFORMED = "malformed-message"
UNREADABLE = "unreadable-payload"
UNVERIFIED = "unverified-payload"  # unsigned or wrongly signed, or a pickle on json
V1_SIGNATURE = "v1-signature"  # signed in the v1 format, refused since v2
BAD_RECORD = "bad-run-record"  # its run record is not a hash (claim.lua)
STRIKE_CHECK = "strike-check-failed"


@dataclass
class Intake:
    runnable: list[Execution] = field(default_factory=list)
    struck: list[Execution] = field(default_factory=list)
    rejected: list[tuple[Rejection, Delivery]] = field(default_factory=list)
    early: list[tuple[Execution, Delivery]] = field(default_factory=list)


def take_in(session: Session, deliveries: list[Delivery]) -> Intake:
    intake = Intake()
    horizon = _codec.now() + _defaults.EARLY_MESSAGE_TOLERANCE  # one clock read
    for delivery in deliveries:
        outcome = _examine(session, delivery)
        if isinstance(outcome, Rejection):
            intake.rejected.append((outcome, delivery))
        elif outcome[0].when > horizon:
            intake.early.append((outcome[0], delivery))
        elif outcome[1]:
            intake.struck.append(outcome[0])
        else:
            intake.runnable.append(outcome[0])
    return intake


def _examine(
    session: Session, delivery: Delivery
) -> Rejection | tuple[Execution, bool]:
    """The execution and whether it is struck, or why the entry must not run."""
    limit = session.worker.max_deliveries
    if delivery.deliveries > limit:
        detail = f"delivered {delivery.deliveries} times (the limit is {limit})"
        return Rejection(delivery.message_id, MAX_DELIVERIES, detail)
    fields = delivery.fields
    raw = fields.get(b"function")  # as identity() reads it, without the rest
    name = "?" if raw is None else raw.decode(errors="replace")
    function = session.docket.tasks.get(name) or session.worker.fallback_task
    try:
        execution = Execution.from_fields(
            session.docket, fields, function, delivery.redelivered, delivery.message_id
        )
    except UnverifiedMessage as error:  # refused before anything was decoded
        category = V1_SIGNATURE if error.v1 else UNVERIFIED
        return Rejection(delivery.message_id, category, error.reason)
    except MalformedMessage as error:
        return Rejection(delivery.message_id, MALFORMED, str(error))
    except Exception as error:
        detail = f"the payload cannot be loaded: {_codec.error_text(error)}"
        return Rejection(delivery.message_id, UNREADABLE, detail)
    try:
        struck = session.docket.strike_list.is_stricken(execution)
    except Exception as error:
        detail = f"checking strikes raised {_codec.error_text(error)}"
        return Rejection(delivery.message_id, STRIKE_CHECK, detail)
    return execution, struck


__all__ = ["Intake", "take_in"]
