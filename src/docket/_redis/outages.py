"""Telling people about a Redis outage: one WARNING when it starts, one INFO when
it ends, and a reminder now and then in between; per process and Redis URL.

Every part of a process that talks to one Redis (a worker's loops, its docket's
strike monitor) reports its failures and successes to the same ``OutageLog``,
under a fixed name for what it was doing ("renew leases", "follow strikes").
The first failure opens the outage and is logged at WARNING with the URL (never
its password) and the error; further failures are silent but for a reminder
every ``OUTAGE_REMINDER``. The outage ends when everything that failed during it
has succeeded again (a Redis that answers reads but refuses writes is still
out), logged at INFO with its length. A success costs one attribute test while
nothing fails.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from .. import _defaults
from .urls import redact_url

logger = logging.getLogger("docket.redis")


def _seconds(value: float) -> str:
    return f"{value:.1f} s"


class OutageLog:
    """Whether Redis at one URL is out for this process, and what was said of it."""

    def __init__(
        self,
        where: str,
        reminder: float = _defaults.OUTAGE_REMINDER.total_seconds(),
        forget_after: float = 2 * _defaults.BACKOFF_CAP.total_seconds(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.where = where
        self.reminder = reminder
        # A failing part that neither failed nor succeeded for this long has
        # stopped trying (its session ended): it no longer holds the outage open.
        self.forget_after = forget_after
        self._clock = clock
        self._lock = threading.Lock()
        self._failing: dict[str, float] = {}  # what -> when it last failed
        self._began: float | None = None
        self._told = 0.0

    @property
    def down(self) -> bool:
        return self._began is not None

    def failed(self, what: str, error: BaseException) -> None:
        """``what`` (an infinitive: "renew leases") failed because of ``error``."""
        now = self._clock()
        with self._lock:
            if self._began is not None and all(
                now - at > self.forget_after for at in self._failing.values()
            ):  # nothing tried for long (its parts stopped): this is a new outage
                self._began, self._failing = None, {}
            self._failing[what] = now
            if self._began is None:
                self._began = self._told = now
                began = None
            elif now - self._told >= self.reminder:
                self._told = now
                began = self._began
            else:
                return
        detail = f"{type(error).__name__}: {error}"
        if began is None:
            logger.warning(
                "Failed to %s: Redis at %s is unavailable (%s); retrying with "
                "backoff until it is back (running tasks keep running)",
                what,
                self.where,
                detail,
            )
        else:
            logger.warning(
                "Redis at %s still unavailable after %s (%s); retrying",
                self.where,
                _seconds(now - began),
                detail,
            )

    def succeeded(self, what: str) -> None:
        """``what`` reached Redis; the outage ends when nothing fails any more."""
        if not self._failing:  # the usual case: nothing to do
            return
        now = self._clock()
        with self._lock:
            self._failing.pop(what, None)
            for name, at in list(self._failing.items()):
                if now - at > self.forget_after:
                    del self._failing[name]
            if self._failing or self._began is None:
                return
            began, self._began = self._began, None
        logger.info("Redis at %s back after %s", self.where, _seconds(now - began))


_logs: dict[str, OutageLog] = {}
_logs_lock = threading.Lock()


def outage_log(url: str) -> OutageLog:
    """This process's ``OutageLog`` for the Redis at ``url``."""
    where = redact_url(url)
    with _logs_lock:
        log = _logs.get(where)
        if log is None:
            log = _logs[where] = OutageLog(where)
        return log


__all__ = ["OutageLog", "outage_log"]
