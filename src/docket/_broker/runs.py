"""Run records: claiming, settling, reading and clearing executions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .. import _codec
from . import scripts
from .base import BrokerBase
from .tally import Counts, Tally, count_outcomes, merge
from .types import RunRecord, Settlement


def _field(text: str) -> str:
    """One field as ``<byte length>:<text>`` (records() in lua/_prelude.lua)."""
    if text.isascii():
        return f"{len(text)}:{text}"
    return f"{len(text.encode('utf-8', 'surrogateescape'))}:{text}"


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode("utf-8", "surrogateescape")


def pack(rows: Iterable[Sequence[str | bytes]]) -> bytes:
    """A batch for the scripts as one argument: every field as ``<byte length>:
    <bytes>`` (records() in lua/_prelude.lua reads it back), so task keys and error
    texts may hold any character. Built as text and encoded once."""
    text = "".join(_field(_text(field)) for row in rows for field in row)
    return text.encode("utf-8", "surrogateescape")


def _claim_record(key: str, generation: int, message_id: bytes, again: bool) -> str:
    """The 4 fields of one claim, packed (runs for every task: the ASCII ones
    skip the check)."""
    number, mid = str(generation), message_id.decode("ascii")
    flag = "1:1" if again else "1:0"
    return f"{_field(key)}{len(number)}:{number}{len(mid)}:{mid}{flag}"


_NO_FAILURE = "0:" * 7  # the 7 empty archive fields of a settlement not archived


def _settlement(item: Settlement) -> str:
    """The 14 fields of one settlement, packed (the last 7 empty unless archived).

    This runs for every task: the fields known to be ASCII skip the check."""
    flags = ("r" if item.stored_result else "") + ("p" if item.wrote_progress else "")
    flags = flags or "-"
    generation = str(item.generation)
    message_id = (item.message_id or b"").decode("ascii")
    head = (
        f"{_field(item.key)}{len(generation)}:{generation}"
        f"{len(message_id)}:{message_id}{len(item.state)}:{item.state}"
        f"{len(item.completed_at)}:{item.completed_at}{_field(item.error)}"
        f"{len(flags)}:{flags}"
    )
    failure = item.failure
    if failure is None or item.state != "failed":
        return head + _NO_FAILURE
    tail = (
        item.function or "?",
        failure.error_type,
        failure.message,
        failure.traceback,
        str(failure.attempt),
        failure.worker,
        failure.started_at,
    )
    return head + "".join(_field(field) for field in tail)


def _pack_counts(counts: Counts) -> bytes:
    return pack(
        (str(minute), f"{outcome}:{task}", str(count))
        for (minute, outcome, task), count in counts.items()
    )


class RunOps(BrokerBase):
    # Fire-and-forget dockets (execution_ttl=0) skip the running-state write.
    _records_running: bool = True
    # Set by the Broker: the failed-task archive's bounds, the throughput counts.
    failed_limit: int
    failed_retention: float
    stats_retention: int
    tally: Tally

    async def claim(
        self,
        worker: str,
        started_at: str,
        batch: Sequence[tuple[str, int, bytes, bool]],
    ) -> list[bool]:
        """Mark a batch (key, generation, message id, redelivered) running.

        Returns, per message, whether it may run; the others were superseded or
        cancelled and have been acknowledged already.
        """
        packed = "".join(
            _claim_record(key, generation, message_id, again)
            for key, generation, message_id, again in batch
        ).encode("utf-8", "surrogateescape")
        record_running = "1" if self._records_running else "0"
        args: list[Any] = [
            self.keys.prefix,
            self.group,
            worker,
            started_at,
            packed,
            record_running,
        ]
        codes = await self.run_script(
            scripts.CLAIM, [self.keys.stream, self.keys.listening], args
        )
        return [code in (b"R", "R") for code in codes]

    async def settle(
        self, batch: Sequence[Settlement], ttl_seconds: int, flush: bool = False
    ) -> int:
        """Write the final state of a batch and acknowledge it; returns how many
        were superseded (their successors' records were left alone).

        Failed executions that carry a ``failure`` are archived in ``P:failed``.
        The batch's throughput counts join the tally, which goes out with this
        call when it is due (at most once per interval) or when ``flush``."""
        counts = count_outcomes((item.state, item.function) for item in batch)
        taken: Counts | None = None
        if flush or self.tally.due():
            taken = self.tally.take()
        sending = merge(dict(taken), counts) if taken is not None else {}
        cutoff = ""
        if any(outcome == "failed" for _, outcome, _ in sending):
            oldest = _codec.now().timestamp() - self.failed_retention
            cutoff = str(max(int(oldest * 1000), 0))
        packed = "".join(_settlement(item) for item in batch).encode(
            "utf-8", "surrogateescape"
        )
        now = _codec.iso(_codec.now())
        args: list[Any] = [
            self.keys.prefix,
            self.group,
            ttl_seconds,
            now,
            packed,
            self.failed_limit,
            cutoff,
            _pack_counts(sending),
            self.stats_retention,
        ]
        try:
            superseded = await self.run_script(
                scripts.SETTLE,
                [self.keys.stream, self.keys.listening, self.keys.failed],
                args,
            )
        except BaseException:
            if taken:
                self.tally.give_back(taken)
            raise
        if taken is None:
            self.tally.give_back(counts)
        return int(superseded)

    async def flush_tally(self, force: bool = False) -> None:
        """Write the throughput counts still waiting (when due, or ``force``)."""
        if self.tally.pending and (force or self.tally.due()):
            await self.settle([], 0, flush=True)

    async def run_record(self, key: str) -> RunRecord | None:
        """The run record of ``key``, decoded; None when there is none."""
        return RunRecord.decode(await self.client.hgetall(self.keys.runs(key)))

    async def run_generation(self, key: str) -> int | None:
        value = await self.client.hget(self.keys.runs(key), "generation")
        return None if value is None else int(value)

    async def clear(self, ttl_seconds: int) -> int:
        """Withdraw all pending work; returns how many tasks were waiting."""
        k = self.keys
        now = _codec.iso(_codec.now())
        waiting = await self.run_script(
            scripts.CLEAR,
            [k.stream, k.queue, k.listening],
            [k.prefix, ttl_seconds, now],
        )
        return int(waiting)
