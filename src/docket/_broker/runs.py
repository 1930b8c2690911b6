"""Run records: claiming, settling, reading and clearing executions, and the
built-in result store's reads and writes (``P:results:K``)."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, TypeVar

from redis.exceptions import ResponseError

from .. import _codec
from .._defaults import CLEAR_BATCH
from .._text import as_text
from . import scripts
from .lanes import DispatchCall, parse_dispatch
from .pipelining import script_command
from .queue import QueueStore, parse_read
from .store import BrokerBase, Store
from .tally import Counts, count_outcomes, merge
from .types import Delivery, RunRecord, Settlement


def pack(rows: Iterable[Sequence[str | bytes]]) -> bytes:
    """A batch for the scripts as one argument: every field as ``<byte length>:
    <bytes>`` (records() in lua/_prelude.lua reads it back), so task keys and error
    texts may hold any character."""
    parts: list[bytes] = []
    for row in rows:
        for field in row:
            data = field if isinstance(field, bytes) else field.encode()
            parts.append(b"%d:%b" % (len(data), data))
    return b"".join(parts)


T = TypeVar("T")


def _settlement_args(batch: Iterable[Settlement]) -> list[str | bytes]:
    """settle.lua's 7 arguments per settlement (14 when it is kept among the failed tasks)."""
    args: list[str | bytes] = []
    for item in batch:
        flags = (
            ("r" if item.stored_result else "")
            + ("p" if item.wrote_progress else "")
            + ("k" if item.ignored_cancel else "")
        )
        failure = item.failure if item.state == "failed" else None
        if failure is not None:
            flags += "a"
        args += (
            item.key,
            str(item.generation),
            item.message_id or b"",
            item.state,
            item.completed_at,
            item.error,
            flags or "-",
        )
        if failure is not None:
            args += (
                item.function or "?",
                failure.error_type,
                failure.message,
                failure.traceback,
                str(failure.attempt),
                failure.worker,
                failure.started_at,
            )
    return args


def _claim_args(batch: Iterable[tuple[str, int, bytes, bool]]) -> list[str | bytes]:
    """claim.lua's 4 arguments per message."""
    args: list[str | bytes] = []
    for key, generation, message_id, again in batch:
        args += (key, str(generation), message_id, "1" if again else "0")
    return args


def _pack_counts(counts: Counts) -> bytes:
    return pack((hash_, name, str(count)) for (hash_, name), count in counts.items())


@dataclass(frozen=True, slots=True)
class Turn:
    """What one settle-claim-read round trip did; each part may be the Redis
    error it got instead."""

    settled: int | Exception
    claimed: list[bool | None] | Exception
    deliveries: list[Delivery] | Exception
    # The lane tasks dispatched to the worker, and how many still wait on lanes
    # (None when the turn dispatched nothing).
    dispatched: tuple[list[Delivery], int] | Exception | None = None


def _claimed(codes: Any) -> list[bool | None]:
    """True: claimed, run it. False: superseded or cancelled. None: dead-lettered
    (its run record is not a hash). Neither of the last two may run."""
    return [
        True if code in (b"R", "R") else None if code in (b"B", "B") else False
        for code in codes
    ]


async def _outcome(call: Awaitable[T]) -> T | Exception:
    try:
        return await call
    except Exception as error:
        return error


class _SettleCall:
    """The keys and arguments of one settle.lua call, and what becomes of the
    throughput counts it carries when it lands or fails."""

    def __init__(
        self,
        ops: BrokerBase,
        batch: Sequence[Settlement],
        ttl_seconds: int,
        flush: bool,
    ) -> None:
        self.tally = ops.tally
        counts = count_outcomes(
            (item.state, item.function, item.runtime, item.wait) for item in batch
        )
        self.counts = counts
        self.taken: Counts | None = None
        if flush or ops.tally.due():
            self.taken = ops.tally.take()
        sending = merge(dict(self.taken), counts) if self.taken is not None else {}
        cutoff = ""
        if any(name.startswith("failed:") for _, name in sending):
            oldest = _codec.now().timestamp() - ops.failed_retention
            cutoff = str(max(int(oldest * 1000), 0))
        keys = ops.keys
        self.keys = [keys.stream, keys.listening, keys.failed]
        self.args: list[Any] = [
            keys.prefix,
            ops.group,
            str(ttl_seconds),
            _codec.iso(_codec.now()),
            str(ops.failed_limit),
            cutoff,
            _pack_counts(sending),
            str(ops.stats_retention),
            str(ops.retention_ttl),
        ]
        self.args += _settlement_args(batch)

    def failed(self) -> None:
        if self.taken:
            self.tally.give_back(self.taken)

    def landed(self) -> None:
        if self.taken is None:
            self.tally.give_back(self.counts)


class RunStore(Store):
    """Run records (``P:runs:K``): claiming, settling, reading and clearing them;
    ``turn`` settles, claims and reads in one round trip."""

    def __init__(self, shared: BrokerBase, queue: QueueStore) -> None:
        super().__init__(shared)
        self.queue = queue

    async def claim(
        self,
        worker: str,
        started_at: str,
        batch: Sequence[tuple[str, int, bytes, bool]],
    ) -> list[bool | None]:
        """Mark a batch (key, generation, message id, redelivered) running.

        Returns, per message, True when it may run; False when it was superseded
        or cancelled, None when its run record is not a hash and it was moved to
        the dead letters (``bad-run-record``); both are acknowledged already.
        """
        keys, args = self._claim_call(worker, started_at, batch)
        return _claimed(await self.run_script(scripts.CLAIM, keys, args))

    def _claim_call(
        self,
        worker: str,
        started_at: str,
        batch: Sequence[tuple[str, int, bytes, bool]],
    ) -> tuple[list[str], list[Any]]:
        record_running = "1" if self.shared.records_running else "0"
        args: list[Any] = [self.keys.prefix, self.group, worker, started_at]
        args.append(record_running)
        args.append(self.shared.dead_limit)
        args.append(self.shared.retention_ttl)
        args += _claim_args(batch)
        return [self.keys.stream, self.keys.listening, self.keys.dead], args

    async def settle(
        self, batch: Sequence[Settlement], ttl_seconds: int, flush: bool = False
    ) -> int:
        """Write the final state of a batch and acknowledge it; returns how many
        were superseded (their successors' records were left alone).

        Failed executions that carry a ``failure`` are kept in ``P:failed``.
        The batch's throughput counts join the tally, which goes out with this
        call when it is due (at most once per interval) or when ``flush``."""
        call = _SettleCall(self.shared, batch, ttl_seconds, flush)
        try:
            superseded = await self.run_script(scripts.SETTLE, call.keys, call.args)
        except BaseException:
            call.failed()
            raise
        call.landed()
        return int(superseded)

    async def turn(
        self,
        settlements: Sequence[Settlement],
        ttl_seconds: int,
        worker: str,
        started_at: str,
        claims: Sequence[tuple[str, int, bytes, bool]],
        read: int = 0,
        dispatch: DispatchCall | None = None,
    ) -> Turn:
        """``settle``, then ``claim``, then (while priority lanes hold tasks) a
        ``dispatch``, then a non-blocking read of up to ``read`` new messages, in
        one round trip where the backend pipelines: the slots the settled
        executions free are taken up, and the next batch is in hand, without
        waiting for another reply. Each part's outcome comes back on its own (a
        Redis error as the exception): a claim that failed never undoes a settle
        that landed. A connection fault raises (no outcome is known)."""
        if self.autopipeline is None:  # in-process engine: one call after the other
            settled = await _outcome(self.settle(settlements, ttl_seconds))
            claimed = (
                await _outcome(self.claim(worker, started_at, claims)) if claims else []
            )
            handed = await _outcome(self._dispatch(dispatch)) if dispatch else None
            read_ = await _outcome(self.queue.read(worker, read, None)) if read else []
            return Turn(settled, claimed, read_, handed)
        call = _SettleCall(self.shared, settlements, ttl_seconds, False)
        calls: list[tuple[tuple[Any, ...], scripts.Script | None]] = [
            (script_command(scripts.SETTLE, call.keys, call.args), scripts.SETTLE)
        ]
        if claims:
            claim_keys, claim_args = self._claim_call(worker, started_at, claims)
            command = script_command(scripts.CLAIM, claim_keys, claim_args)
            calls.append((command, scripts.CLAIM))
        if dispatch:
            calls.append((dispatch.command(), scripts.DISPATCH))
        if read:
            calls.append((self.queue.read_command(worker, read), None))
        try:
            replies = iter(await self.autopipeline.send_many(calls))
        except BaseException:
            call.failed()
            raise
        settled = next(replies)
        if isinstance(settled, Exception):
            call.failed()
        else:
            call.landed()
            settled = int(settled)
        claimed: list[bool | None] | Exception = []
        if claims:
            reply = next(replies)
            claimed = reply if isinstance(reply, Exception) else _claimed(reply)
        handed: tuple[list[Delivery], int] | Exception | None = None
        if dispatch:
            reply = next(replies)
            handed = reply if isinstance(reply, Exception) else parse_dispatch(reply)
        deliveries: list[Delivery] | Exception = []
        if read:
            reply = next(replies)
            deliveries = reply if isinstance(reply, Exception) else parse_read(reply)
        return Turn(settled, claimed, deliveries, handed)

    async def _dispatch(self, call: DispatchCall) -> tuple[list[Delivery], int]:
        return parse_dispatch(
            await self.run_script(scripts.DISPATCH, call.keys, call.args)
        )

    async def flush_tally(self, force: bool = False) -> None:
        """Write the throughput counts still waiting (when due, or ``force``)."""
        if self.shared.tally.pending and (force or self.shared.tally.due()):
            await self.settle([], 0, flush=True)

    async def record(self, key: str) -> RunRecord | None:
        """The run record of ``key``, decoded; None when there is none."""
        return RunRecord.decode(await self.client.hgetall(self.keys.runs(key)))

    async def _held_ids(self) -> list[str]:
        """The ids of the stream entries workers hold (none without a group)."""
        try:
            rows = await self.client.xpending_range(
                self.keys.stream, self.group, "-", "+", HELD_MOST
            )
        except ResponseError as error:
            if "NOGROUP" in str(error):
                return []
            raise
        return [as_text(_field(row, "message_id")) for row in rows]

    async def observed(self, key: str) -> RunRecord | None:
        """The run record of ``key`` as readers should see it. Where records are not
        marked running (execution_ttl=0: the claim leaves "queued"), a queued task
        whose stream entry a worker holds reads as running on that worker, started
        when the entry was delivered (one XPENDING more, only in that case)."""
        record = await self.record(key)
        if (
            record is None
            or self.shared.records_running
            or record.state != "queued"
            or not record.stream_id
        ):
            return record
        try:
            held = await self.client.xpending_range(
                self.keys.stream, self.group, record.stream_id, record.stream_id, 1
            )
        except ResponseError as error:  # no worker ever started: none holds it
            if "NOGROUP" in str(error):
                return record
            raise
        if not held:
            return record
        idle = int(_field(held[0], "time_since_delivered") or 0)
        return replace(
            record,
            state="running",
            worker=as_text(_field(held[0], "consumer")),
            started_at=_codec.iso(_codec.now() - timedelta(milliseconds=idle)),
        )

    async def generation(self, key: str) -> int | None:
        """The generation on the run record of ``key``; None without one (or when
        the field is not a number)."""
        value = await self.client.hget(self.keys.runs(key), "generation")
        try:
            return None if value is None else int(value)
        except ValueError:
            return None

    async def clear(self, ttl_seconds: int, batch: int = CLEAR_BATCH) -> int:
        """Withdraw pending work, ``batch`` tasks per script call, until a call
        finds fewer (producers that keep adding cannot keep it going); returns how
        many tasks were withdrawn."""
        k = self.keys
        total = 0
        unmarked = not self.shared.records_running
        while True:
            now = _codec.iso(_codec.now())
            args: list[str | int] = [k.prefix, ttl_seconds, now, batch]
            args.append(self.group if unmarked else "")
            if unmarked and self.backend.is_memory:  # its scripts lack XPENDING
                args.extend(await self._held_ids())
            withdrawn = int(
                await self.run_script(
                    scripts.CLEAR, [k.stream, k.queue, k.listening, k.paused], args
                )
            )
            total += withdrawn
            if withdrawn < batch:
                return total


# Most entries a clear on memory:// looks through for those workers hold (a
# docket's workers hold at most their concurrency plus a little read-ahead each).
HELD_MOST = 10_000


def _field(row: Any, name: str) -> Any:
    """A field of an XPENDING row, keyed by text (redis-py) or bytes."""
    return row[name] if name in row else row.get(name.encode())


class ResultStore(Store):
    """The built-in result store's documents (``P:results:K``)."""

    async def read(self, key: str) -> bytes | None:
        """The stored result document of ``key`` (JSON text), if any."""
        return await self.client.get(self.keys.result(key))

    async def write(self, key: str, document: str, ttl_seconds: int | None) -> None:
        """Store ``document`` for ``key``, expiring after ``ttl_seconds``."""
        await self.client.set(self.keys.result(key), document, ex=ttl_seconds)
