"""``Signal(...)``: a task parameter whose value is a signal's payload.

A task with a ``Signal`` parameter is added WAITING (it holds no worker slot) until
``docket.signal(name, payload)`` sends the signal its template names, or its
timeout comes; then it runs with the payload (or the default) as that parameter's
value. The wait itself lives in Redis (``_broker/mailbox.py``): here the worker
reads what the run received."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, ClassVar, cast

from uncalled_for import Provider

from .._broker.mailbox import RECEIVED, open_payload
from .._broker.waits import NO_DEFAULT, SignalParameter, call_arguments
from .._errors import SignalTimeout, Suspended
from ._blips import through_blips
from ._context import current_docket, current_execution

logger = logging.getLogger("docket.signals")


class _Signal(SignalParameter, Provider[Any]):
    available: ClassVar[bool] = True
    parameter: str = ""

    def for_parameter(self, name: str) -> _Signal:
        bound = _Signal(self.template, self.timeout, self.default)
        bound.parameter = name
        return bound

    async def __aenter__(self) -> Any:
        execution = current_execution.get()
        docket = current_docket.get()
        function = execution.function
        arguments = call_arguments(function, execution.args, execution.kwargs)
        name = self.name_for(function, arguments, self.parameter)
        # What the run received, read through a Redis blip (a restart while the
        # task starts must not fail it: the read is safe to repeat).
        waits = await through_blips(
            lambda: docket.broker.mailbox.received(execution.key)
        )
        wait = waits.get(name)
        if wait is not None and wait.mark == RECEIVED and wait.payload is not None:
            try:
                return open_payload(docket.codec, name, wait.payload)
            except ValueError as refused:  # UnverifiedPayload, MalformedPayload
                # A forgery does not release the task: it waits for the signal
                # again (until the same deadline), as Suspend.for_signal parks it.
                logger.error(
                    "Signal %r of task %s refused: %s; the task waits for it again",
                    name,
                    execution.key,
                    refused,
                    extra={"docket.key": execution.key, "docket.signal": name},
                )
                raise Suspended(
                    None, {}, signal=name, timeout=wait.deadline, fresh=True
                ) from refused
        if self.default is not NO_DEFAULT:
            return self.default
        waited = f" within {self.timeout}" if self.timeout is not None else ""
        raise SignalTimeout(
            f"task {execution.key!r} waited for signal {name!r}{waited}, and it did "
            "not come (give the Signal a default= to run without it)"
        )


def Signal(
    name: str, timeout: timedelta | None = None, default: Any = NO_DEFAULT
) -> Any:
    """Wait for signal ``name`` before the task starts, and run with its payload.

    ``name`` is a template formatted from the task's arguments by parameter name
    (``"review-{post_id}"``); the task is WAITING, holding no worker slot, until
    ``docket.signal(name, payload)`` sends it. A signal sent before the task was
    added is kept for a while (its lookback, a day by default) and consumed by the
    first task that waits for it. After ``timeout`` (counted from the add) the task
    runs with ``default``; without one it fails with ``SignalTimeout`` (its Retry
    policy applies, and a retry waits again)."""
    return cast(Any, _Signal(name, timeout, default))


__all__ = ["Signal", "SignalTimeout"]
