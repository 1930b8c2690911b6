"""The operator's console on a Docket: the failed-task archive (read, replay,
purge), per-minute throughput, and moving a waiting task (dead letters have
their own manager, ``docket.dead_letters``).

``Docket`` inherits these methods; they issue no Redis command themselves but
call broker operations. Payloads are never unpickled here: a replay puts the
archived bytes back into the stream as they were (with signing keys, only once
their signature verifies, and signed again for their new ``when``).
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from typing import Any

from .. import _codec, _defaults
from .._broker import Broker
from .._broker.tally import minute_of, window_of
from .._broker.timing import TaskTiming, summed
from .._codec import Codec
from .._codec.message import UnverifiedMessage, decode_message, resealed_message
from .._defaults import parse_duration
from .._keys import check_task_key
from .._states import Disposition
from .entries import FailedPage, FailedTask, ThroughputMinute

logger = logging.getLogger("docket.console")


def archive_settings(
    limit: int | None, retention: timedelta | None
) -> tuple[int, timedelta]:
    """The archive's bounds: the arguments, else ``DOCKET_FAILED_LIMIT`` and
    ``DOCKET_FAILED_RETENTION`` (a duration: ``604800``, ``7d``, ``12h``...),
    else 10,000 entries and 7 days."""
    if limit is None:
        text = os.environ.get(_defaults.ENV_FAILED_LIMIT)
        try:
            limit = _defaults.FAILED_LIMIT if text is None else int(text)
        except ValueError:
            raise ValueError(
                f"{_defaults.ENV_FAILED_LIMIT} must be a whole number, not {text!r}"
            ) from None
    if retention is None:
        text = os.environ.get(_defaults.ENV_FAILED_RETENTION)
        try:
            retention = (
                _defaults.FAILED_RETENTION if text is None else parse_duration(text)
            )
        except ValueError as error:
            raise ValueError(f"{_defaults.ENV_FAILED_RETENTION}: {error}") from None
    if limit < 0:
        raise ValueError("failed_limit must not be negative (0 archives nothing)")
    if retention <= timedelta(0):
        raise ValueError("failed_retention must be longer than zero")
    return limit, retention


def _ms(moment: datetime) -> int:
    return max(int(moment.timestamp() * 1000), 0)


def _filters(
    task: str | None, error_type: str | None, key: str | None
) -> dict[str, str]:
    chosen = {"function": task, "error_type": error_type, "key": key}
    return {name: value for name, value in chosen.items() if value is not None}


class OperatorConsole:
    """Console methods of a Docket (mixed into ``Docket``)."""

    failed_limit: int
    failed_retention: timedelta
    codec: Codec

    @property
    def broker(self) -> Broker:
        raise NotImplementedError

    def _oldest_ms(self, since: timedelta | None = None) -> int:
        now = _codec.now()
        window = self.failed_retention if since is None else since
        return _ms(now - min(window, self.failed_retention))

    # ---- the failed-task archive ------------------------------------------------

    async def failed(
        self,
        task: str | None = None,
        error_type: str | None = None,
        key: str | None = None,
        since: timedelta | None = None,
        limit: int = _defaults.DASHBOARD_PAGE_SIZE,
        cursor: str | None = None,
    ) -> FailedPage:
        """Archived failures, newest first, filtered by task name, exception type
        (its class name), key and age (failed within ``since``). A page holds at
        most ``limit``; its ``cursor`` (None at the end) fetches the next one. A
        filtered page examines at most a few thousand entries per call, so a page
        may come back short with a cursor to go on from."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if since is not None and since <= timedelta(0):
            raise ValueError("since must be longer than zero")
        filters = _filters(task, error_type, key)
        page = await self.broker.failed.find(
            limit,
            _defaults.FAILED_SCAN if filters else limit,
            filters,
            cursor,
            self._oldest_ms(since),
        )
        tasks = [FailedTask.decode(i, f, self.codec) for i, f in page.entries]
        return FailedPage(tasks, page.cursor)

    async def failed_count(self) -> int:
        """Entries in the archive (some may be past retention, not yet trimmed)."""
        return await self.broker.failed.count()

    async def failed_task(self, key: str) -> FailedTask | None:
        """The newest archived failure of ``key``, if any."""
        check_task_key(key)
        filters = {"key": key}
        cursor: str | None = None
        while True:
            page = await self.broker.failed.find(
                1, _defaults.FAILED_SCAN, filters, cursor, self._oldest_ms()
            )
            if page.entries:
                return FailedTask.decode(*page.entries[0], self.codec)
            if page.cursor is None:
                return None
            cursor = page.cursor

    async def replay(self, key: str) -> Disposition:
        """Add the newest archived failure of ``key`` again, with its original
        (still pickled) arguments, under its key; it leaves the archive when it is
        scheduled. ``ALREADY_SCHEDULED`` when the key is live again already.
        Raises KeyError when the archive has no failure of ``key``."""
        failed = await self.failed_task(key)
        if failed is None:
            raise KeyError(f"No failed task with key {key!r} in the archive")
        return await self.replay_entry(failed)

    async def replay_entry(self, failed: FailedTask) -> Disposition:
        if not failed.replayable:
            raise ValueError(
                f"The archived failure of {failed.key!r} has no task name or "
                "arguments to replay (its payload could not be read)"
            )
        now = _codec.now()
        message = failed.task_message()
        if message is None:
            raise ValueError(
                f"The archived failure of {failed.key!r} is not a task message"
            )
        try:
            # The archived bytes go back as they were, never decoded; with signing
            # keys they must verify first, and the new message is signed again.
            fields = resealed_message(self.codec, message, now)
        except UnverifiedMessage as problem:
            raise ValueError(
                f"The archived failure of {failed.key!r} was not replayed: "
                f"{problem.reason}"
            ) from None
        placed = await self.broker.queue.schedule(
            key=failed.key,
            when=now.timestamp(),
            immediate=True,
            mode="add",
            fields=fields,
        )
        if placed != "OK":
            return Disposition.ALREADY_SCHEDULED
        await self.broker.failed.delete([failed.id])
        return Disposition.SCHEDULED

    async def replay_failed(
        self,
        task: str | None = None,
        error_type: str | None = None,
        since: timedelta | None = None,
    ) -> int:
        """Replay every archived failure matching the filters (the newest one per
        key); returns how many were scheduled. Entries that do not verify against
        the signing keys stay archived (one ERROR line each)."""
        replayed, seen = 0, set[str]()
        cursor: str | None = None
        while True:
            page = await self.failed(task, error_type, None, since, 200, cursor)
            for failed in page.tasks:
                if failed.key in seen or not failed.replayable:
                    continue
                seen.add(failed.key)
                try:
                    disposition = await self.replay_entry(failed)
                except ValueError as refused:
                    logger.error("%s", refused)
                    continue
                if disposition is Disposition.SCHEDULED:
                    replayed += 1
            if page.cursor is None:
                return replayed
            cursor = page.cursor

    async def purge(
        self,
        task: str | None = None,
        error_type: str | None = None,
        key: str | None = None,
        older_than: timedelta | None = None,
    ) -> int:
        """Remove archived failures matching every filter given (all of them when
        none is); ``older_than`` keeps the recent ones. Returns how many went."""
        if key is not None:
            check_task_key(key)
        if older_than is not None and older_than < timedelta(0):
            raise ValueError("older_than must not be negative")
        filters = _filters(task, error_type, key)
        if not filters and older_than is None:
            count = await self.broker.failed.count()
            await self.broker.failed.clear()
            return count
        cursor = None
        if older_than is not None:
            cursor = f"{_ms(_codec.now() - older_than)}-0"
        purged = 0
        while True:
            deleted, cursor = await self.broker.failed.purge(
                _defaults.FAILED_SCAN, filters, cursor
            )
            purged += deleted
            if cursor is None:
                return purged

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
