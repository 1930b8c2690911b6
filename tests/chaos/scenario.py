"""One chaos scenario's world: its own redis-server (free 127.0.0.1 port, own data
directory), worker processes, a producer, the controller's own connection, the
journal, and the reconciliation at the end."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from docket import Docket
from tests._support.servers import RedisServer
from tests.chaos.fleet import Fleet
from tests.chaos.journal import Journal, reconcile
from tests.chaos.producer import Producer
from tests.chaos.profiles import RECOVERY_BAR, Profile
from tests.chaos.report import Outcome

Check = Callable[[], "bool | Awaitable[bool]"]
CONTROLLER = "chaos-controller"


class Scenario:
    """``async with Scenario(...) as s``: everything started, and stopped by pid
    at the end. ``url_options`` go on the workers' URL only (``socket_timeout=1``);
    ``durable=False`` runs the server without persistence."""

    def __init__(
        self,
        name: str,
        profile: Profile,
        directory: Path,
        *,
        durable: bool = True,
        url_options: str = "",
        worker_env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.profile = profile
        self.server = RedisServer(durable=durable)
        self.docket_name = f"chaos-{name}"
        worker_url = self.server.url + (f"?{url_options}" if url_options else "")
        self.fleet = Fleet(
            directory, self.docket_name, worker_url, profile, dict(worker_env or {})
        )
        self.fleet.journal.mkdir(parents=True, exist_ok=True)
        self.journal = Journal(self.fleet.journal)
        self._stack = contextlib.AsyncExitStack()
        self._docket: Docket | None = None
        self._control: Redis | None = None
        self.server_gone: float | None = None
        """When the last restart's old server process had exited: every add
        confirmed before this may have landed in the data it held."""

    # ---- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> Scenario:
        await asyncio.to_thread(self.server.start)
        self._stack.callback(self.server.close)
        self._stack.callback(self.fleet.close)
        docket = Docket(name=self.docket_name, url=self.server.url)
        self._docket = await self._stack.enter_async_context(docket)
        docket.register_collection("tests.chaos.tasks:tasks")
        self._control = Redis.from_url(self.server.url)
        self._stack.push_async_callback(self._control.aclose)
        await self._control.client_setname(CONTROLLER)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    @property
    def docket(self) -> Docket:
        assert self._docket is not None
        return self._docket

    @property
    def control(self) -> Redis:
        """The controller's own connection (named, so faults can spare it)."""
        assert self._control is not None
        return self._control

    def producer(self, prefix: str = "task", count: int | None = None) -> Producer:
        p = self.profile
        return Producer(self.docket, prefix, count or p.tasks, p.task_seconds, p.rate)

    # ---- waiting on conditions -------------------------------------------------------

    async def until(self, check: Check, timeout: float) -> bool:
        """Poll ``check`` until it holds (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = check()
                if inspect.isawaitable(value):
                    value = await value
            except (RedisError, OSError):
                value = False
            if value:
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.1)  # poll interval

    async def start_workers(
        self, *labels: str, concurrency: int | None = None, timeout: float = 40
    ) -> None:
        """Start worker processes and wait until each has sent a heartbeat."""
        for label in labels:
            self.fleet.spawn(label, concurrency)
        wanted = {self.fleet.members[label].name for label in labels}

        async def ready() -> bool:
            seen = {w.name for w in await self.docket.workers()}
            return wanted <= seen

        if not await self.until(ready, timeout):
            raise AssertionError(
                f"workers {sorted(wanted)} did not heartbeat within {timeout}s\n"
                + self.fleet.tail()
            )

    async def flowing(self, keys: set[str], share: float, timeout: float = 30) -> bool:
        """Wait until ``share`` of ``keys`` have finished: traffic is flowing."""
        return await self.until(
            lambda: self.journal.poll().finished(keys) >= share * len(keys), timeout
        )

    async def backlog(self) -> tuple[int, int]:
        """(entries in the stream, tasks in the future queue)."""
        stream = await self.control.xlen(self.docket.stream_key)
        queue = await self.control.zcard(self.docket.queue_key)
        return int(stream), int(queue)

    async def drain(self, keys: set[str], timeout: float) -> bool:
        """Wait until every key finished AND nothing is left in the stream (each
        message settled: a message kept for redelivery would still be there)."""

        async def done() -> bool:
            if self.journal.poll().finished(keys) < len(keys):
                return False
            return await self.backlog() == (0, 0)

        return await self.until(done, timeout)

    async def back(self, timeout: float = 30) -> float:
        """The moment the controller's PING is answered again."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                await self.control.ping()
                return time.monotonic()
            except (RedisError, OSError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.02)

    # ---- faults ----------------------------------------------------------------------

    async def restart_server(self, outage: float) -> tuple[float, float]:
        """Stop redis-server (SIGTERM, by pid), stay down ``outage``, start it on
        the same port and data directory; (went down, answering again)."""
        down = time.monotonic()
        await asyncio.to_thread(self.server.stop)
        self.server_gone = time.monotonic()
        await asyncio.sleep(max(0.0, outage - (time.monotonic() - down)))  # the fault
        await asyncio.to_thread(self.server.start)
        return down, await self.back()

    async def kill_then_restart(self, keys: set[str]) -> tuple[int, float, float]:
        """The faults of the workload scenarios: once a quarter of ``keys`` have
        finished, SIGKILL worker w1 (its supervisor starts it again); once half
        have, restart redis-server for the profile's outage. Returns w1's pid,
        when it was killed, and when Redis answered again."""
        assert await self.flowing(keys, 0.25), "the tasks did not start"
        pid, killed = self.fleet.kill9("w1")
        self.fleet.spawn("w1")  # the supervisor starts it again
        assert await self.flowing(keys, 0.5, timeout=60), "no progress after the kill"
        _, came_back = await self.restart_server(self.profile.restart_outage)
        return pid, killed, came_back

    async def through_kill_and_restart(
        self, keys: set[str], drain: set[str] | None = None
    ) -> tuple[Outcome, float, float]:
        """The workload scenarios' run: ``kill_then_restart`` over ``keys``, then
        wait for ``drain`` (the keys unless told) to drain and reconcile the keys,
        w1's death counted (its supervisor started it again). Returns the outcome,
        when w1 was killed, and when Redis answered again."""
        pid, killed, came_back = await self.kill_then_restart(keys)
        drained = await self.drain(drain or keys, self.profile.drain_timeout + 30)
        outcome = await self.outcome(
            keys, drained=drained, deaths={pid: killed}, supervised=True
        )
        return outcome, killed, came_back

    async def freeze_server(self, seconds: float) -> tuple[float, float]:
        """SIGSTOP redis-server (by pid) for ``seconds``, then SIGCONT: every
        connection stays open and hangs; (stopped, answering again)."""
        assert self.server.process is not None
        pid = self.server.process.pid
        os.kill(pid, signal.SIGSTOP)
        frozen = time.monotonic()
        try:
            await asyncio.sleep(seconds)  # the fault's duration
        finally:
            os.kill(pid, signal.SIGCONT)
        return frozen, await self.back()

    async def dead_letters(self) -> list[dict[bytes, bytes]] | None:
        """The entries of the dead-letter stream ``P:dead``; None when it does not
        exist (or cannot be read)."""
        name = self.docket.key("dead")
        try:
            if not await self.control.exists(name):
                return None
            entries: Any = await self.control.xrange(name)
            return [cast(dict[bytes, bytes], fields) for _, fields in entries]
        except (RedisError, OSError):
            return None

    # ---- the verdict -----------------------------------------------------------------

    async def outcome(
        self,
        expected: set[str],
        *,
        drained: bool,
        deaths: dict[int, float] | None = None,
        came_back: float | None = None,
        outage: float | None = None,
        supervised: bool = False,
        stall: bool = False,
    ) -> Outcome:
        """Reconcile and apply the bar: 0 lost; 0 duplicates unless the outage
        reached redelivery_timeout (a ``stall`` of Redis, which every worker
        lived through, is held to 0 whatever its length); recovery within
        RECOVERY_BAR of Redis coming back; no worker exited (unless a supervisor
        restarts them); drained."""
        result = reconcile(self.journal, expected, deaths or {})
        outcome = Outcome(self.name, result)
        counts_duplicates = stall or outage is None or outage < self.profile.redelivery
        outcome.check_counts(counts_duplicates)
        if outage is not None:
            outcome.details.append(f"outage {outage:.1f}s")
            if not counts_duplicates:
                outcome.details.append(
                    f"duplicates not held to 0 (outage >= redelivery timeout "
                    f"{self.profile.redelivery:g}s)"
                )
        if came_back is not None:
            first = self.journal.first_finish_started_after(came_back)
            outcome.recovery = None if first is None else first - came_back
            outcome.check(
                outcome.recovery is not None and outcome.recovery <= RECOVERY_BAR,
                f"no recovery within {RECOVERY_BAR}s of Redis coming back"
                if outcome.recovery is None
                else f"recovery {outcome.recovery:.1f}s > {RECOVERY_BAR}s",
            )
        self.fleet.record_exits()
        if supervised:
            restarts = len(self.fleet.exits)
            outcome.details.append(f"worker restarts {restarts}")
        else:
            gone = [f"{name} (status {code})" for name, code in self.fleet.exits]
            outcome.check(not gone, f"workers exited: {', '.join(gone)}")
        if not drained:
            try:
                stream, queue = await self.backlog()
                left = f"{stream} in the stream, {queue} in the queue"
            except (RedisError, OSError) as error:
                left = f"Redis unreadable: {error}"
            outcome.check(False, f"not drained in time ({left})")
        return outcome

    def verdict(self, outcome: Outcome) -> None:
        """Print the scenario's line; fail with it (and the workers' output)."""
        line = outcome.emit()
        assert not outcome.failures, line + "\n" + self.fleet.tail()


def mentions(letters: list[dict[bytes, bytes]] | None, text: str) -> bool:
    """Whether a dead letter carries ``text`` (a task key, a message id) in one of
    its fields."""
    needle = text.encode()
    return any(needle in value for fields in letters or [] for value in fields.values())
