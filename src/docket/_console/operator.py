"""The operator's methods of a Docket (mixed into ``Docket``): the failed tasks'
documented flat methods (thin aliases of ``docket.failed_tasks``), per-minute
throughput and timings, and moving a waiting task.

They issue no Redis command themselves but call the broker's stores. Payloads are
never unpickled here: moving a task keeps its message as stored (with signing
keys, only once its signature verifies, and signed again for its new ``when``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .. import _codec, _defaults
from .._broker import Broker
from .._broker.tally import minute_of, window_of
from .._broker.timing import TaskTiming, summed
from .._codec import Codec
from .._codec.message import decode_message, resealed_message
from .._keys import check_task_key
from .._states import Disposition
from .entries import FailedPage, FailedTask, ThroughputMinute
from .failed_tasks import FailedTasks


class OperatorConsole:
    """The operator's methods of a Docket (mixed into ``Docket``)."""

    failed_limit: int
    failed_retention: timedelta
    codec: Codec

    @property
    def broker(self) -> Broker:
        raise NotImplementedError

    @property
    def failed_tasks(self) -> FailedTasks:
        """The tasks whose last attempt failed (``P:failed``): list, replay, purge."""
        return FailedTasks(self)

    # ---- the failed tasks' flat methods: aliases of docket.failed_tasks --------

    async def failed(
        self,
        task: str | None = None,
        error_type: str | None = None,
        key: str | None = None,
        since: timedelta | None = None,
        limit: int = _defaults.DASHBOARD_PAGE_SIZE,
        cursor: str | None = None,
    ) -> FailedPage:
        """``docket.failed_tasks.list(...)``: a page of failed tasks, newest first."""
        return await self.failed_tasks.list(task, error_type, key, since, limit, cursor)

    async def failed_count(self) -> int:
        """``docket.failed_tasks.count()``."""
        return await self.failed_tasks.count()

    async def failed_task(self, key: str) -> FailedTask | None:
        """``docket.failed_tasks.get(key)``: the newest failure of ``key``."""
        return await self.failed_tasks.get(key)

    async def replay(self, key: str) -> Disposition:
        """``docket.failed_tasks.replay(key)``."""
        return await self.failed_tasks.replay(key)

    async def replay_entry(self, failed: FailedTask) -> Disposition:
        """``docket.failed_tasks.replay_entry(failed)``."""
        return await self.failed_tasks.replay_entry(failed)

    async def replay_failed(
        self,
        task: str | None = None,
        error_type: str | None = None,
        since: timedelta | None = None,
    ) -> int:
        """``docket.failed_tasks.replay_all(...)``."""
        return await self.failed_tasks.replay_all(task, error_type, since)

    async def purge(
        self,
        task: str | None = None,
        error_type: str | None = None,
        key: str | None = None,
        older_than: timedelta | None = None,
    ) -> int:
        """``docket.failed_tasks.purge(...)``."""
        return await self.failed_tasks.purge(task, error_type, key, older_than)

    # ---- throughput -------------------------------------------------------------

    async def throughput(self, minutes: int = 60) -> list[ThroughputMinute]:
        """Per-minute counts of completed, failed and retried tasks (per task name)
        over the last ``minutes`` (at most 24 hours), oldest first, this minute
        included."""
        horizon = int(_defaults.STATS_RETENTION.total_seconds() // 60)
        if not 1 <= minutes <= horizon:
            raise ValueError(f"minutes must be between 1 and {horizon}")
        last = minute_of(_codec.now().timestamp())
        starts = [last - 60 * i for i in range(minutes - 1, -1, -1)]
        counts = await self.broker.stats.throughput(starts)
        return [
            ThroughputMinute.decode(m, c) for m, c in zip(starts, counts, strict=True)
        ]

    async def task_timings(self, minutes: int = 60) -> dict[str, TaskTiming]:
        """Per task name: completed, failed and retried counts and runtime and
        queue-wait histograms (``summary()`` gives p50/p95) over the last
        ``minutes`` (at most 24 hours), read from ten-minute windows: the span is
        rounded up to whole windows, so "the last hour" covers 60 to 70 minutes."""
        horizon = int(_defaults.STATS_RETENTION.total_seconds() // 60)
        if not 1 <= minutes <= horizon:
            raise ValueError(f"minutes must be between 1 and {horizon}")
        now = _codec.now().timestamp()
        first, last = window_of(now - 60 * minutes), window_of(now)
        step = int(_defaults.TIMING_WINDOW.total_seconds())
        windows = await self.broker.stats.timings(list(range(first, last + 1, step)))
        return summed(windows)

    # ---- moving a waiting task --------------------------------------------------

    async def reschedule(self, key: str, when: datetime | None = None) -> bool:
        """Move the queued or scheduled task ``key`` to ``when`` (default: now),
        keeping its arguments as stored. False when ``key`` is not waiting;
        ``UnverifiedMessage`` when its message does not verify against the
        signing keys."""
        check_task_key(key)
        if when is not None and when.tzinfo is None:
            raise TypeError("'when' must be timezone-aware")
        fields = await self.broker.views.waiting_message(key)
        if fields is None:
            return False
        moment = when or _codec.now()
        stored = decode_message(fields)
        # The payloads stay as stored, never decoded; a signed message must verify
        # and is signed again for its new 'when' (UnverifiedMessage otherwise).
        moved = resealed_message(self.codec, stored, moment, stored.attempt)
        message: dict[bytes, Any] = {
            name: value for name, value in fields.items() if name != b"signature"
        }
        message.update(moved)
        decode_message(message)  # the message we are about to write must be valid
        state = "queued" if moment <= _codec.now() else "scheduled"
        placed = await self.broker.queue.schedule(
            key=key,
            when=moment.timestamp(),
            immediate=state == "queued",
            mode="replace",
            fields=message,
            keep_added=True,
        )
        return placed == "OK"


__all__ = ["OperatorConsole"]
