"""What every store of a broker shares: the backend, the keyspace, the scripts and
the auto-pipeline (``BrokerBase``), and the ``Store`` each named store builds on."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from redis.exceptions import ResponseError

from .._defaults import (
    DEAD_LETTER_LIMIT,
    FAILED_LIMIT,
    FAILED_RETENTION,
    STATS_FLUSH_INTERVAL,
    STATS_RETENTION,
    WORKER_GROUP,
)
from .._keys import Keyspace
from .._redis import Backend
from .._redis.client import RedisClient
from .pipelining import AutoPipeline
from .scripts import Arg, Script
from .tally import Tally

LISTENING_RECHECK = 1.0


def is_first_id(stream_id: str) -> bool:
    """True for ``0-0`` (or ``0``): no stream entry is older, so a page "older
    than" it is empty (Redis refuses the exclusive range ``(0-0``)."""
    milliseconds, _, sequence = stream_id.partition("-")
    try:
        return int(milliseconds) == 0 and int(sequence or 0) == 0
    except ValueError:
        return False


class BrokerBase:
    """The state every store shares: one docket's keys over one open backend."""

    backend: Backend
    client: RedisClient
    keys: Keyspace
    group: str
    # Most entries the dead-letter stream keeps (scripts that dead-letter trim it).
    dead_limit: int = DEAD_LETTER_LIMIT
    # How long the failed tasks (P:failed) and the dead letters (P:dead) keep an
    # entry, in seconds: entries older go, and each stream expires this long after
    # its last entry was added.
    failed_retention: float = FAILED_RETENTION.total_seconds()

    @property
    def retention_ttl(self) -> int:
        """The expiry of P:failed and P:dead in whole seconds (renewed by every entry added)."""
        return max(int(self.failed_retention + 0.999), 1)

    autopipeline: AutoPipeline | None
    # Due tasks this process placed on a priority lane (a worker of the same
    # process starts dispatching without waiting for the wake-up to come round).
    lane_placements: int = 0

    def __init__(
        self,
        backend: Backend,
        keys: Keyspace,
        records_running: bool = True,
        failed_limit: int = FAILED_LIMIT,
        failed_retention: float = FAILED_RETENTION.total_seconds(),
        dead_limit: int = DEAD_LETTER_LIMIT,
    ) -> None:
        self.backend = backend
        self.client: RedisClient = backend.client
        self.keys = keys
        self.group = WORKER_GROUP
        # Fire-and-forget dockets (execution_ttl=0) skip the running-state write.
        self.records_running = records_running
        self.failed_limit = failed_limit
        self.failed_retention = failed_retention
        self.dead_limit = dead_limit
        self.stats_retention = int(STATS_RETENTION.total_seconds()) + 120
        self.tally = Tally(STATS_FLUSH_INTERVAL.total_seconds())
        # Redis: concurrent script calls share pipelines. In-process: call directly.
        self.autopipeline = None if backend.is_memory else AutoPipeline(backend.client)

    async def run_script(
        self, script: Script, keys: Sequence[str], args: Sequence[Arg]
    ) -> Any:
        if self.autopipeline is not None:
            values = [a if isinstance(a, (str, bytes)) else str(a) for a in args]
            return await self.autopipeline.call(script, keys, values)
        return await script(
            self.client, keys, args, publish_after=self.backend.is_memory
        )

    async def ping(self) -> None:
        """One PING: whether Redis answers at all (raises when it does not). The
        memory:// engine lives in this process: it always answers."""
        if not self.backend.is_memory:
            await self.client.execute_command("PING")

    async def ensure_group(self) -> None:
        """Create the workers' consumer group (and the stream) if missing."""
        try:
            await self.client.xgroup_create(
                self.keys.stream, self.group, id="0-0", mkstream=True
            )
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    # ---- is anyone listening for state and progress events? ----

    _listening: bool = False
    _listening_checked: float = float("-inf")

    def publish_mode(self) -> str:
        """How schedule.lua decides to publish: "1"/"0" from a recent answer, else "?".

        Producers ask Redis whether anyone listens at most once a second, so an add
        costs no extra command. A subscriber always syncs after subscribing, so an
        add event skipped in that second hides no state from it."""
        now = time.monotonic()
        if now - self._listening_checked < LISTENING_RECHECK:
            return "1" if self._listening else "0"
        self._listening_checked = now
        return "?"

    def note_listening(self, answer: int) -> None:
        if answer >= 0:
            self._listening = answer == 1
            self._listening_checked = time.monotonic()


class Store:
    """One named store of a broker (``broker.runs``, ``broker.queue``, ...): a few
    operations on one part of the docket's data, over the broker's shared backend,
    keyspace, scripts and auto-pipeline (``shared``)."""

    def __init__(self, shared: BrokerBase) -> None:
        self.shared = shared

    @property
    def backend(self) -> Backend:
        return self.shared.backend

    @property
    def client(self) -> RedisClient:
        return self.shared.client

    @property
    def keys(self) -> Keyspace:
        return self.shared.keys

    @property
    def group(self) -> str:
        return self.shared.group

    @property
    def autopipeline(self) -> AutoPipeline | None:
        return self.shared.autopipeline

    @property
    def run_script(
        self,
    ) -> Callable[[Script, Sequence[str], Sequence[Arg]], Awaitable[Any]]:
        return self.shared.run_script

    @property
    def ensure_group(self) -> Callable[[], Awaitable[None]]:
        return self.shared.ensure_group
