"""``VirtualClock``: time that stands still until a test moves it.

While it is in use, every scheduling decision in docket reads it instead of the
wall clock (``docket._clock``). ``advance()`` moves it forward to each moment a
queued task comes due, in order, and runs what is due there with the runner, so a
day of a ``Cron`` task's runs takes milliseconds.

    async with DocketRunner(docket) as runner:
        with VirtualClock(runner) as clock:
            await clock.advance(hours=3)
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import TracebackType

from .. import _clock
from ._testing_worker import DocketRunner

__all__ = ["VirtualClock"]

# A chain that keeps scheduling itself for the moment it runs in never lets the
# clock move on; past this many stops in one advance() it is reported.
MAX_STOPS = 100_000


class VirtualClock:
    """A clock for ``runner``'s docket that moves only when told to.

    It starts at ``start`` (default: now, to the whole second). Use it as a
    context manager (``with VirtualClock(runner) as clock``): inside, docket
    reads this clock; on exit, the wall clock again. One at a time."""

    def __init__(self, runner: DocketRunner, start: datetime | None = None) -> None:
        if start is None:
            start = datetime.now(timezone.utc).replace(microsecond=0)
        elif start.tzinfo is None:
            raise TypeError(
                "start must be timezone-aware, e.g. datetime(..., tzinfo=timezone.utc)"
            )
        self.runner = runner
        self._now = start.timestamp()

    def __enter__(self) -> VirtualClock:
        if not _clock.is_real():
            raise RuntimeError("another virtual clock is already in use")
        _clock.use(self.time)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _clock.restore()

    def time(self) -> float:
        """The clock's moment, in seconds since the epoch."""
        return self._now

    @property
    def now(self) -> datetime:
        """The clock's moment as an aware UTC datetime."""
        return datetime.fromtimestamp(self._now, timezone.utc)

    async def advance(
        self,
        delta: timedelta | None = None,
        /,
        *,
        days: float = 0,
        hours: float = 0,
        minutes: float = 0,
        seconds: float = 0,
        milliseconds: float = 0,
    ) -> None:
        """Move forward by ``delta`` (or by the parts given), running every task
        that comes due on the way at its own moment, in order."""
        step = timedelta(
            days=days,
            hours=hours,
            minutes=minutes,
            seconds=seconds,
            milliseconds=milliseconds,
        )
        if delta is not None:
            step += delta
        if step < timedelta(0):
            raise ValueError(f"the virtual clock only moves forward, not by {step}")
        await self.advance_to(self.now + step)

    async def advance_to(self, when: datetime) -> None:
        """Move forward to ``when`` (aware), running what comes due on the way."""
        if when.tzinfo is None:
            raise TypeError("when must be timezone-aware")
        target = when.timestamp()
        if target < self._now:
            raise ValueError(
                f"the virtual clock only moves forward: {when.isoformat()} is "
                f"before its {self.now.isoformat()}"
            )
        broker = self.runner.docket.broker
        for _ in range(MAX_STOPS):
            await self.runner.until_idle()
            due = await broker.queue.next_due()
            if due is None or due > target:  # nothing due on the way: done
                self._now = target
                return
            self._now = max(self._now, due)
        raise RuntimeError(
            f"advance stopped after {MAX_STOPS} moments with tasks still due: does "
            "a task keep scheduling itself for the moment it runs in?"
        )
