"""Failed tasks: tasks whose last attempt failed, to look at, replay or purge.

When a task fails for the last time (no retry is left), the settle script keeps
it in ``P:failed`` with its error, traceback and original message, bounded by
``Docket.failed_limit`` entries and ``Docket.failed_retention``. The
``docket.failed_tasks`` manager reads, replays and purges them, as
``docket.dead_letters`` does the messages a worker refused to run. It issues no
Redis command itself but calls the broker's ``failed`` store. Payloads are never
unpickled here: a replay puts the stored bytes back into the stream as they were
(with signing keys, only once their signature verifies, and signed again for
their new ``when``).
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from typing import Protocol

from .. import _codec, _defaults
from .._broker import Broker
from .._codec import Codec
from .._codec.message import UnverifiedMessage, resealed_message
from .._defaults import parse_duration
from .._keys import check_task_key
from .._states import Disposition
from .entries import FailedPage, FailedTask

logger = logging.getLogger("docket.console")


def failed_settings(
    limit: int | None, retention: timedelta | None
) -> tuple[int, timedelta]:
    """The failed tasks' bounds: the arguments, else ``DOCKET_FAILED_LIMIT`` and
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
        raise ValueError("failed_limit must not be negative (0 keeps none)")
    if retention <= timedelta(0):
        raise ValueError("failed_retention must be longer than zero")
    return limit, retention


def _ms(moment: datetime) -> int:
    return max(int(moment.timestamp() * 1000), 0)


def _filters(
    task: str | None, error_type: str | None, key: str | None, contains: bool = False
) -> dict[str, str]:
    """The failed-task scan's filters: exact values, or parts with ``contains``."""
    chosen = {"function": task, "error_type": error_type, "key": key}
    mark = "~" if contains else ""
    return {mark + name: value for name, value in chosen.items() if value is not None}


class FailedDocket(Protocol):
    """What the failed tasks need of their docket."""

    codec: Codec
    failed_retention: timedelta

    @property
    def broker(self) -> Broker: ...


class FailedTasks:
    """The failed tasks of one docket (``docket.failed_tasks``)."""

    def __init__(self, docket: FailedDocket) -> None:
        self._docket = docket

    def _oldest_ms(self, since: timedelta | None = None) -> int:
        retention = self._docket.failed_retention
        now = _codec.now()
        window = retention if since is None else since
        return _ms(now - min(window, retention))

    async def list(
        self,
        task: str | None = None,
        error_type: str | None = None,
        key: str | None = None,
        since: timedelta | None = None,
        limit: int = _defaults.DASHBOARD_PAGE_SIZE,
        cursor: str | None = None,
        *,
        contains: bool = False,
    ) -> FailedPage:
        """Failed tasks, newest first, filtered by task name, exception type
        (its class name), key (each exactly, or with ``contains`` any part of
        it) and age (failed within ``since``). A page holds at
        most ``limit``; its ``cursor`` (None at the end) fetches the next one. A
        filtered page examines at most a few thousand entries per call, so a page
        may come back short with a cursor to go on from."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if since is not None and since <= timedelta(0):
            raise ValueError("since must be longer than zero")
        filters = _filters(task, error_type, key, contains)
        page = await self._docket.broker.failed.find(
            limit,
            _defaults.FAILED_SCAN if filters else limit,
            filters,
            cursor,
            self._oldest_ms(since),
        )
        tasks = [FailedTask.decode(i, f, self._docket.codec) for i, f in page.entries]
        return FailedPage(tasks, page.cursor)

    async def count(self) -> int:
        """Failed tasks kept (some may be past retention, not yet trimmed)."""
        return await self._docket.broker.failed.count()

    async def get(self, key: str) -> FailedTask | None:
        """The newest failure of ``key`` kept, if any."""
        check_task_key(key)
        filters = {"key": key}
        cursor: str | None = None
        while True:
            page = await self._docket.broker.failed.find(
                1, _defaults.FAILED_SCAN, filters, cursor, self._oldest_ms()
            )
            if page.entries:
                return FailedTask.decode(*page.entries[0], self._docket.codec)
            if page.cursor is None:
                return None
            cursor = page.cursor

    async def replay(self, key: str) -> Disposition:
        """Add the newest failure of ``key`` again, with its original (still
        pickled) arguments, under its key; it leaves the failed tasks when it is
        scheduled. ``ALREADY_SCHEDULED`` when the key is live again already.
        Raises KeyError when no failure of ``key`` is kept."""
        failed = await self.get(key)
        if failed is None:
            raise KeyError(f"No failed task with key {key!r}")
        return await self.replay_entry(failed)

    async def replay_entry(self, failed: FailedTask) -> Disposition:
        if not failed.replayable:
            raise ValueError(
                f"The failed task {failed.key!r} has no task name or "
                "arguments to replay (its payload could not be read)"
            )
        now = _codec.now()
        message = failed.task_message()
        if message is None:
            raise ValueError(f"The failed task {failed.key!r} is not a task message")
        try:
            # The stored bytes go back as they were, never decoded; with signing
            # keys they must verify first, and the new message is signed again.
            fields = resealed_message(self._docket.codec, message, now)
        except UnverifiedMessage as problem:
            raise ValueError(
                f"The failed task {failed.key!r} was not replayed: {problem.reason}"
            ) from None
        if failed.fair is not None:  # a FairShare task: back through its backlog
            fields[b"fair"] = failed.fair
        if failed.priority is not None:  # and to its priority's lane
            fields[b"priority"] = failed.priority
        placed = await self._docket.broker.queue.schedule(
            key=failed.key,
            when=now.timestamp(),
            immediate=True,
            mode="add",
            fields=fields,
        )
        if placed != "OK":
            return Disposition.ALREADY_SCHEDULED
        await self._docket.broker.failed.delete([failed.id])
        return Disposition.SCHEDULED

    async def replay_all(
        self,
        task: str | None = None,
        error_type: str | None = None,
        since: timedelta | None = None,
        *,
        contains: bool = False,
    ) -> int:
        """Replay every failed task matching the filters (exactly, or with
        ``contains`` any part; the newest one per key); returns how many were
        scheduled. Entries that do not verify against the signing keys stay (one
        ERROR line each)."""
        replayed, seen = 0, set[str]()
        cursor: str | None = None
        while True:
            page = await self.list(
                task, error_type, None, since, 200, cursor, contains=contains
            )
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
        *,
        contains: bool = False,
    ) -> int:
        """Remove the failed tasks matching every filter given (exactly, or with
        ``contains`` any part; all of them when none is); ``older_than`` keeps
        the recent ones. Returns how many went."""
        if key is not None:
            check_task_key(key)
        if older_than is not None and older_than < timedelta(0):
            raise ValueError("older_than must not be negative")
        filters = _filters(task, error_type, key, contains)
        if not filters and older_than is None:
            count = await self._docket.broker.failed.count()
            await self._docket.broker.failed.clear()
            return count
        cursor = None
        if older_than is not None:
            cursor = f"{_ms(_codec.now() - older_than)}-0"
        purged = 0
        while True:
            deleted, cursor = await self._docket.broker.failed.purge(
                _defaults.FAILED_SCAN, filters, cursor
            )
            purged += deleted
            if cursor is None:
                return purged


__all__ = ["FailedDocket", "FailedTasks", "failed_settings"]
