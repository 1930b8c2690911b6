"""``Debounce``: trailing-edge "settle, then run once" admission control."""

from __future__ import annotations

from datetime import timedelta
from types import TracebackType

from typing_extensions import Self

from .. import _clock
from .._broker.admission import DROP, PROCEED
from .._keys import debounce_keys
from ..execution import Execution
from ._admission import AdmissionControl, check_scope, milliseconds, positive_duration
from ._base import AdmissionBlocked, logger
from ._context import current_execution

__all__ = ["Debounce"]


class Debounce(AdmissionControl):
    """Trailing edge: once submissions of a tag stay quiet for ``settle``, run one.

    The first submission waits (rescheduled) until ``settle`` has passed without
    another submission, then runs with its own arguments; later submissions in the
    burst are dropped (``CANCELLED``). A winner that has not come back for
    ``3 x settle + 1 s`` (cancelled, struck, lost) is replaced by the next submission.
    """

    single: bool = True

    settle: timedelta

    def __init__(self, settle: timedelta, *, scope: str | None = None) -> None:
        self.settle = positive_duration("settle", settle)
        self.scope = check_scope(scope)
        self._proceeded = False

    def __repr__(self) -> str:
        return f"Debounce({self.settle!r}, scope={self.scope!r})"

    def _key_names(self, execution: Execution) -> tuple[str, str]:
        return debounce_keys(execution.docket.name, self.scope, self._tag(execution))

    async def __aenter__(self) -> Self:
        execution, _ = self._context()
        settle_ms = milliseconds(self.settle)
        action, ms = await execution.docket.broker.admission.debounce(
            self._key_names(execution),
            execution.key,
            int(_clock.time() * 1000),
            settle_ms,
            lost_ms=3 * settle_ms + 1000,
        )
        if action == PROCEED:
            self._proceeded = True
            return self
        reason = f"debounce on {self._tag(execution)}"
        if action == DROP:
            raise AdmissionBlocked(execution, reason, reschedule=False)
        raise AdmissionBlocked(
            execution, reason, retry_delay=timedelta(milliseconds=ms)
        )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not (self._proceeded and isinstance(exc_value, AdmissionBlocked)):
            return
        if not (exc_value.handled or exc_value.reschedule):
            return  # dropped: it will not come back, so it must not stay the winner
        execution = current_execution.get()
        settle_ms = milliseconds(self.settle)
        try:
            await execution.docket.broker.admission.debounce(
                self._key_names(execution),
                execution.key,
                int(_clock.time() * 1000),
                settle_ms,
                lost_ms=0,
                restore=True,
            )
        except Exception as error:
            logger.warning(
                "Could not restore the debounce of %s: %s", execution.key, error
            )
