"""Sign-in state, held by the dashboard process: sessions that expire and end at
sign-out, and a limit on failed sign-ins per client address."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import deque

MAX_SESSIONS = 10_000
MAX_CLIENTS = 10_000


def _digest(session: str) -> str:
    return hashlib.sha256(session.encode("utf-8", "surrogateescape")).hexdigest()


class Sessions:
    """Random session ids (only their digests are kept), each valid for
    ``lifetime`` seconds from sign-in or until it is closed. At most
    ``MAX_SESSIONS`` at once: the oldest goes first."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        self._expiry: dict[str, float] = {}

    def open(self) -> str:
        now = time.monotonic()
        self._expiry = {d: t for d, t in self._expiry.items() if t > now}
        while len(self._expiry) >= MAX_SESSIONS:
            del self._expiry[next(iter(self._expiry))]
        session = secrets.token_urlsafe(32)
        self._expiry[_digest(session)] = now + self.lifetime
        return session

    def valid(self, session: str) -> bool:
        if not session:
            return False
        expiry = self._expiry.get(_digest(session))
        if expiry is None:
            return False
        if expiry <= time.monotonic():
            self.close(session)
            return False
        return True

    def close(self, session: str) -> None:
        self._expiry.pop(_digest(session), None)


class FailureLimit:
    """At most ``limit`` failures per ``window`` seconds from one client
    address; past that, ``retry_after`` says how long it must wait."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str, now: float) -> deque[float]:
        failures = self._failures.get(client)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[client]
        return failures

    def retry_after(self, client: str) -> float | None:
        """Seconds until ``client`` may try again; None when it may now."""
        now = time.monotonic()
        failures = self._recent(client, now)
        if len(failures) < self.limit:
            return None
        return max(0.0, failures[0] + self.window - now)

    def fail(self, client: str) -> None:
        now = time.monotonic()
        failures = self._recent(client, now)
        if client not in self._failures:
            while len(self._failures) >= MAX_CLIENTS:
                del self._failures[next(iter(self._failures))]
            self._failures[client] = failures
        failures.append(now)
