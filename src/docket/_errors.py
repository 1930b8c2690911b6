"""Every exception Docket defines, in one place.

The modules that raise them import them from here, and the public modules that
pydocket has them in re-export them (``docket.execution.ExecutionCancelled``,
``docket.execution.UnverifiedPayload``, ...).

Three stay beside the code they carry, and are listed here so that this is the
one place naming them all: ``AdmissionBlocked`` and ``ForcedRetry`` (raised by
dependencies inside a run, holding its execution; ``docket.dependencies``) and
``AccessDenied`` (Redis refused the worker's user something it needs, naming the
ACL rule to grant; ``docket._redis.faults``). The dashboard's form errors
(``ValueError`` subclasses it catches itself) stay with its forms.
"""

from __future__ import annotations

from . import _defaults

# Why a payload with a v1 signature is refused.
V1_REFUSED = (
    "it carries a v1 signature, made before signatures bound the docket name and "
    "the run, and v1 signatures are refused: let a producer of this release write "
    f"it again (or set {_defaults.ENV_SIGNING_ACCEPT_V1}=1 while you upgrade; "
    "see docs/security.md)"
)

# Reading what others wrote.


class MalformedMessage(ValueError):
    """A stream entry that is not a valid task message; the text says why."""


class UnverifiedMessage(MalformedMessage):
    """A task message whose arguments were not decoded: unsigned or wrongly
    signed while signing keys are configured (``v1`` when it carries a refused
    v1 signature), or pickled on a JSON docket."""

    def __init__(self, reason: str, v1: bool = False) -> None:
        super().__init__(f"the task's arguments were not loaded: {reason}")
        self.reason = reason
        self.v1 = v1

    @classmethod
    def refusing(cls, problem: UnverifiedPayload) -> UnverifiedMessage:
        return cls(str(problem), isinstance(problem, V1Signature))


class UnverifiedPayload(ValueError):
    """A payload that was not decoded because it cannot be trusted: no signature
    or a wrong one while signing keys are configured, a v1 signature, a result of
    an earlier run than its task's, or a pickle on a docket whose serializer is
    ``json``. The text says which."""


class V1Signature(UnverifiedPayload):
    """A payload whose signature verifies only in the v1 format (no docket name,
    no run), refused unless ``DOCKET_SIGNING_ACCEPT_V1`` is set."""

    def __init__(self, text: str = V1_REFUSED) -> None:
        super().__init__(text)


class MalformedPayload(ValueError):
    """A payload that cannot be decoded into what it must be (the text says why)."""


# Waiting on a result.


class ExecutionCancelled(Exception):
    """Raised by Execution.get_result() for an execution that was cancelled."""


class NoRecordToWaitOn(TimeoutError, RuntimeError):
    """get_result() on a finished task of a docket with ``execution_ttl=0``: nothing
    is kept once such a task ends, so its outcome can never arrive. Raised at once
    (where pydocket waits out the deadline, or for ever without one); a TimeoutError,
    as pydocket's wait would end, and a RuntimeError."""


# Workflows.


class UnknownParent(LookupError):
    """An add with ``after=`` naming a parent key the docket has no record of (never
    added, or its record expired): refused, nothing written. (A cycle is refused
    with ``docket.CycleError``, the dependency engine's.)"""


# Refusing an add.


class DocketError(Exception):
    """The base of the errors Docket raises when it refuses a request of yours
    (catch it to handle any of them)."""


class QueueFull(DocketError):
    """An add (or replace) refused because its task type has ``MaxQueued(n)`` and
    ``n`` of its tasks already wait (queued or scheduled, not running): nothing was
    written. ``task``, ``limit`` and ``key`` say which."""

    def __init__(self, task: str, limit: int, key: str) -> None:
        self.task, self.limit, self.key = task, limit, key
        super().__init__(
            f"{task!r} already has {limit} tasks waiting (MaxQueued({limit})); "
            f"{key!r} was not added"
        )


class FairShareFull(QueueFull):
    """An add (or replace) refused because the backlog of its FairShare value
    already holds ``FairShare(max_queued=n)`` tasks: nothing was written. A
    ``QueueFull`` (``limit`` is ``max_queued``), so one ``except`` serves both."""

    def __init__(self, task: str, key: str, max_queued: int) -> None:
        DocketError.__init__(
            self,
            f"{task!r} {key!r} refused: its fair-share value already has "
            f"{max_queued} tasks queued (FairShare(max_queued={max_queued}))",
        )
        self.task, self.limit, self.key = task, max_queued, key
        self.max_queued = max_queued


# Stopping a worker.


class SignalTimeout(TimeoutError):
    """A task waited for a signal past its timeout, and its ``Signal`` has no
    ``default``: the task fails with it (its Retry policy applies, and a retry
    waits for the signal again)."""


class Abandoned(Exception):
    """The worker stopped while Redis kept failing an execution's follow-up: it is
    left unacknowledged, for redelivery (``run`` releases it unrecorded)."""


class Suspended(Exception):
    """Raised by ``Suspend.until`` / ``Suspend.for_signal`` to end the attempt: the
    worker parks the same key again (it is neither a failure nor a retry) and frees
    the slot. Internal control flow: a task must let it through."""

    def __init__(
        self,
        until: float | None,
        steps: dict[str, str],
        signal: str | None = None,
        timeout: float | None = None,
        fresh: bool = False,
    ) -> None:
        self.until = until  # epoch seconds to wake at (Suspend.until)
        self.steps = steps  # checkpoint fields written with the move
        self.signal = signal  # the signal waited for (Suspend.for_signal)
        self.timeout = timeout  # epoch seconds the signal wait ends at, or None
        self.fresh = fresh  # a new wait (not the same one again)
        what = f"signal {signal!r}" if signal is not None else f"time {until}"
        super().__init__(f"suspended until {what}")


class ShutdownForced(Exception):
    """The worker stopped before its in-flight tasks finished (they are redelivered)."""


__all__ = [
    "SignalTimeout",
    "MalformedMessage",
    "UnverifiedMessage",
    "UnverifiedPayload",
    "V1Signature",
    "MalformedPayload",
    "ExecutionCancelled",
    "NoRecordToWaitOn",
    "UnknownParent",
    "Abandoned",
    "Suspended",
    "ShutdownForced",
]
