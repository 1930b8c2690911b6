"""Dead letters: messages a worker refused to run, to look at, replay or purge.

A worker moves a stream entry to ``P:dead`` instead of running it when the entry
cannot be a task (a malformed field, a payload that cannot be loaded, a strike
check that raised) or when it was delivered more than ``max_deliveries`` times (its
workers kept dying on it). The entry keeps the message's original fields and adds
the reason, the worker and the time. ``P:dead`` keeps the newest
``Docket.dead_letter_limit`` entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .. import _codec, _defaults
from .._broker.dead import DeadEntry
from .._codec.message import decode_message, identity, open_arguments
from .._handles import DocketHandle
from .._states import Disposition
from .._tasks import placeholder_task
from ..execution import Execution

_OWN_FIELDS = (b"dead_reason", b"dead_detail", b"dead_worker", b"dead_at")


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered message: why, by whom, when, and its original fields."""

    id: str
    reason: str
    detail: str
    worker: str
    dead_at: datetime | None
    message_id: str
    key: str
    function: str
    fields: dict[bytes, bytes]

    def as_dict(self) -> dict[str, Any]:
        """The stable JSON form (``docket dead ls --json``, the dashboard's
        ``/api/dead``): text fields as text, pickled or binary ones by size."""
        text: dict[str, str] = {}
        sizes: dict[str, int] = {}
        for name, value in self.fields.items():
            label = name.decode(errors="replace")
            if name in (b"args", b"kwargs"):
                sizes[label] = len(value)
                continue
            try:
                text[label] = value.decode()
            except UnicodeDecodeError:
                sizes[label] = len(value)
        return {
            "id": self.id,
            "dead_at": self.dead_at.isoformat() if self.dead_at else None,
            "key": self.key,
            "function": self.function,
            "reason": self.reason,
            "detail": self.detail,
            "worker": self.worker,
            "message_id": self.message_id,
            "fields": text,
            "payload_bytes": sizes,
        }

    @classmethod
    def from_entry(cls, entry: DeadEntry) -> DeadLetter:
        def text(name: bytes) -> str:
            return entry.fields.get(name, b"").decode(errors="replace")

        original = {
            name: value
            for name, value in entry.fields.items()
            if name not in _OWN_FIELDS and name != b"dead_message_id"
        }
        key, function, _ = identity(original)
        try:
            dead_at = _codec.from_iso(text(b"dead_at"))
        except ValueError:
            dead_at = None
        return cls(
            id=entry.entry_id,
            reason=text(b"dead_reason"),
            detail=text(b"dead_detail"),
            worker=text(b"dead_worker"),
            dead_at=dead_at,
            message_id=text(b"dead_message_id"),
            key=key,
            function=function,
            fields=original,
        )


class DeadLetters:
    """The dead-letter stream of one docket (``docket.dead_letters``)."""

    def __init__(self, docket: DocketHandle) -> None:
        self._docket = docket

    async def list(
        self, count: int = 100, before: str | None = None
    ) -> list[DeadLetter]:
        """Up to ``count`` dead letters, newest first (older than ``before``)."""
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        entries = await self._docket.broker.dead.entries(count, before)
        return [DeadLetter.from_entry(entry) for entry in entries]

    async def find(
        self,
        count: int = 100,
        before: str | None = None,
        *,
        task: str | None = None,
        key: str | None = None,
        reason: str | None = None,
    ) -> tuple[list[DeadLetter], str | None]:
        """Up to ``count`` dead letters whose task name, key and reason contain
        the parts given, newest first (older than ``before``), examining a few
        thousand entries per call: (the letters, the cursor to go on from, None
        at the end)."""
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        chosen = {"function": task, "key": key, "dead_reason": reason}
        parts = {name: part for name, part in chosen.items() if part}
        entries, cursor = await self._docket.broker.dead.find(
            count, _defaults.FAILED_SCAN, parts, before
        )
        return [DeadLetter.from_entry(entry) for entry in entries], cursor

    async def get(self, dead_letter_id: str) -> DeadLetter | None:
        entry = await self._docket.broker.dead.entry(dead_letter_id)
        return None if entry is None else DeadLetter.from_entry(entry)

    async def count(self) -> int:
        return await self._docket.broker.dead.count()

    async def replay(self, dead_letter_id: str) -> Execution:
        """Schedule the message again, now, under its key, and remove the entry.

        Raises ``LookupError`` when there is no such entry, and ``ValueError`` (the
        entry stays) when its fields cannot make a task, its arguments do not
        verify against the docket's signing keys (``UnverifiedMessage``), or its
        key is already scheduled again. The replayed message is signed afresh
        with the docket's current key."""
        letter = await self.get(dead_letter_id)
        if letter is None:
            raise LookupError(f"No dead letter {dead_letter_id!r}")
        message = decode_message(letter.fields)
        # Scheduled by name: the worker that runs it resolves the function.
        function = self._docket.tasks.get(message.function) or placeholder_task(
            message.function
        )
        args, kwargs = open_arguments(self._docket.codec, message)
        execution = Execution(
            self._docket,
            function,
            args,
            kwargs,
            message.key,
            _codec.now(),
            1,
            function_name=message.function,
        )
        execution.priority = message.priority  # back to its priority's lane
        fair = letter.fields.get(b"fair")
        if fair is not None and execution.fair_share() is None:
            # A FairShare task replayed by name: back through its value's backlog.
            execution.keep_fair_share(fair.decode(errors="replace"))
        if await execution.schedule() is not Disposition.SCHEDULED:
            raise ValueError(f"Task key {message.key!r} is already scheduled")
        await self._docket.broker.dead.delete([dead_letter_id])
        return execution

    async def purge(self, ids: Sequence[str] | None = None) -> int:
        """Remove these dead letters (every one when ``ids`` is None)."""
        if ids is None:
            return await self._docket.broker.dead.purge()
        return await self._docket.broker.dead.delete(list(ids))


__all__ = ["DeadLetter", "DeadLetters"]
