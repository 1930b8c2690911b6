"""Redis going away, as the dashboard reports it: one WARNING line when an outage
begins (naming the URL without its password), one INFO line when Redis answers
again, nothing per request in between; the text pages and the live stream show."""

from __future__ import annotations

import asyncio
import logging
import re
import time

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .._codec import error_text

logger = logging.getLogger("docket.web")
_PASSWORD = re.compile(r"(\w+://[^:/@\s]*:)[^@\s]*@")  # scheme://user:PASSWORD@

# What a page or the live stream treats as Redis being unreachable (a 503 page,
# the outage banner) rather than as a bug (a 500 with its traceback logged).
UNREACHABLE = (
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    TimeoutError,
    asyncio.TimeoutError,
    OSError,
)


class Outage:
    """Whether Redis is unreachable now, and since when."""

    def __init__(self, url: str) -> None:
        self.url = url  # already without its password
        self.since: float | None = None

    def began(self, error: BaseException) -> str:
        """Note a failed read; the line to show. Logs only an outage's first."""
        text = describe(error)
        if self.since is None:
            self.since = time.monotonic()
            logger.warning("Dashboard: Redis unreachable at %s: %s", self.url, text)
        return text

    def over(self) -> None:
        """Note a read that worked: an outage, if any, has ended (one INFO line)."""
        if self.since is None:
            return
        lasted = time.monotonic() - self.since
        self.since = None
        logger.info("Dashboard: Redis at %s back after %.1f s", self.url, lasted)


def describe(error: BaseException) -> str:
    if isinstance(error, (TimeoutError, asyncio.TimeoutError, RedisTimeoutError)):
        return "it did not answer in time"
    return _PASSWORD.sub(r"\1***@", error_text(error))
