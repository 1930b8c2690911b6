"""``docket.signal(name, payload)``: sending a signal to the task waiting for it
(mixed into the Docket as ``Signals``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol

from .. import _defaults
from .._broker import Broker
from .._broker.mailbox import check_signal_name, seal_payload
from .._codec import Codec


class SignallingDocket(Protocol):
    codec: Codec
    signal_lookback: timedelta

    @property
    def broker(self) -> Broker: ...


class Signals:
    """``signal``, mixed into the Docket."""

    # How long a signal nobody waits for yet is kept (``docket.signal``'s default).
    signal_lookback: timedelta = _defaults.SIGNAL_LOOKBACK

    async def signal(
        self: SignallingDocket,
        name: str,
        payload: Any = None,
        *,
        lookback: timedelta | None = None,
    ) -> bool:
        """Send signal ``name`` with ``payload`` (any value the docket's serializer
        takes; signed when the docket signs). The task that has waited longest for
        it (a ``Signal`` parameter, or ``Suspend.for_signal``) receives it and is
        released: returns True. With no task waiting, the signal is kept for
        ``lookback`` (default ``docket.signal_lookback``, a day) and the first task
        to wait for it consumes it at once: returns False (``lookback=timedelta(0)``
        drops it instead). Each signal is received once, by one task."""
        check_signal_name(name)
        keep = self.signal_lookback if lookback is None else lookback
        if not isinstance(keep, timedelta):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(f"lookback must be a timedelta, got {keep!r}")
        if keep < timedelta(0):
            raise ValueError(f"lookback must not be negative, got {keep}")
        sealed = seal_payload(self.codec, name, payload)
        return await self.broker.mailbox.send(name, sealed, keep.total_seconds())


__all__ = ["Signals"]
