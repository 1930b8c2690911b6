"""The operations seam: the only code that issues Redis commands.

Docket, Worker and Execution call a :class:`Broker`; every state change it makes
that touches more than one key is one script of ``lua/``.
"""

from .broker import Broker
from .gates import GateView
from .types import (
    AttemptNote,
    Delivery,
    DueResult,
    Failure,
    RunRecord,
    ScheduleRequest,
    Settlement,
    Sweep,
)

__all__ = [
    "AttemptNote",
    "Broker",
    "Delivery",
    "DueResult",
    "Failure",
    "GateView",
    "RunRecord",
    "Settlement",
    "Sweep",
    "ScheduleRequest",
]
