"""``broker.steps``: a run's checkpoint ``P:steps:K``, the small store behind
``Checkpoint`` and ``Suspend`` (read whole once per attempt, written a field at a
time while the run holds the key).

The checkpoint lives as long as the run: the scripts that move a run keep it, the
ones that end a run or start a new one drop it, in the same step (``_steps.lua``).
Its fields: ``c:<name>`` a mark (``Checkpoint.mark``), ``v:<name>`` a value
(``Checkpoint.set``), ``s:<n>`` the n-th suspension point of the run (a JSON
document: what it waits for, since when, and once a signal came, its payload).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .. import _clock, _defaults
from .._text import as_text_replacing
from . import scripts
from .store import Store

MARK = "c:"
VALUE = "v:"
POINT = "s:"
PAYLOAD = "p:"  # a signal point's payload, as the signal carried it (sealed)


def point_document(raw: bytes | str | None) -> dict[str, Any] | None:
    """A suspension point's document (None when absent, dropped or unreadable)."""
    if not raw:
        return None
    try:
        document = json.loads(raw)
    except ValueError:
        return None
    return document if isinstance(document, dict) and document else None  # pyright: ignore[reportUnknownVariableType]


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, timezone.utc).isoformat()


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


@dataclass(frozen=True)
class Suspension:
    """What a run's latest suspension point waits for: a time (``until``, epoch
    seconds) or a signal (``signal``), since ``since``; ``done`` once satisfied."""

    point: int
    kind: str  # "time" or "signal"
    until: float | None
    signal: str | None
    since: float | None
    done: bool

    def applies(self, state: str | None, due: float | None) -> bool:
        """Whether a run in ``state``, due at ``due`` (epoch seconds), is waiting
        on this point now (and not, say, retried after it was satisfied)."""
        if self.done:
            return False
        if self.kind == "signal":
            return state == "waiting"
        return (
            state in ("scheduled", "queued")
            and due is not None
            and self.until is not None
            and abs(due - self.until) < 1.0
        )

    def as_dict(self) -> dict[str, Any]:
        """The stable JSON form (times as ISO 8601, UTC)."""
        return {
            "point": self.point,
            "kind": self.kind,
            "until": _iso(self.until),
            "signal": self.signal,
            "since": _iso(self.since),
        }


@dataclass(frozen=True)
class StepsView:
    """A run's checkpoint as the task page shows it: the names marked, the names
    of values kept, and the latest suspension point (None: never suspended)."""

    marks: list[str]
    values: list[str]
    latest: Suspension | None


def describe_steps(fields: Mapping[str, bytes]) -> StepsView:
    """A checkpoint's fields decoded for display (values are not decoded)."""
    marks = sorted(n[len(MARK) :] for n in fields if n.startswith(MARK))
    values = sorted(n[len(VALUE) :] for n in fields if n.startswith(VALUE))
    latest: Suspension | None = None
    for name, raw in fields.items():
        if not name.startswith(POINT) or not name[len(POINT) :].isdigit():
            continue
        number, document = int(name[len(POINT) :]), point_document(raw)
        if document is None or (latest is not None and latest.point > number):
            continue
        signal = document.get("signal")
        latest = Suspension(
            number,
            "signal" if isinstance(signal, str) else "time",
            _number(document.get("until")),
            signal if isinstance(signal, str) else None,
            _number(document.get("since")),
            bool(document.get("done")),
        )
    return StepsView(marks, values, latest)


def _named(raw: Mapping[Any, bytes]) -> dict[str, bytes]:
    return {as_text_replacing(name): value for name, value in raw.items()}


class StepStore(Store):
    """Reading and writing one run's checkpoint."""

    async def read(self, key: str) -> dict[str, bytes]:
        """Every field of the checkpoint of ``key``'s run (empty when it has none)."""
        return _named(await self.client.hgetall(self.keys.steps(key)))

    async def latest(
        self, keys: Sequence[str], chunk: int = _defaults.SNAPSHOT_CAP
    ) -> dict[str, Suspension]:
        """The latest suspension point of each of ``keys``' runs that has one (for
        snapshots; done or not): one pipelined round trip per ``chunk`` keys, so
        a snapshot of a long queue never asks for all its checkpoints at once."""
        found: dict[str, Suspension] = {}
        for start in range(0, len(keys), max(chunk, 1)):
            part = keys[start : start + max(chunk, 1)]
            pipe = self.backend.pipeline()
            for key in part:
                pipe.hgetall(self.keys.steps(key))
            for key, raw in zip(part, await pipe.execute(), strict=True):
                fields = _named(raw or {})
                latest = describe_steps(fields).latest if fields else None
                if latest is not None:
                    found[key] = latest
        return found

    async def take(
        self,
        key: str,
        generation: int,
        point: tuple[str, str, str],
        signal: str,
        ttl: int,
    ) -> bytes | None:
        """Take the oldest signal ``signal`` kept for a waiter still to come, and
        keep it as the payload of ``point`` (its field, payload field, document)
        in the same step; None when none is kept (or the run moved on). Asked
        again for the same point, it answers with the payload taken before."""
        field, payload_field, document = point
        k = self.keys
        reply = await self.run_script(
            scripts.STEPS_TAKE,
            [k.runs(key), k.steps(key), k.signals_kept(signal)],
            [
                k.prefix,
                key,
                str(generation),
                str(ttl),
                field,
                payload_field,
                document,
                signal,
                repr(_clock.time()),
            ],
        )
        if reply is None or reply is False:
            return None
        return reply.encode() if isinstance(reply, str) else bytes(reply)

    async def write(
        self,
        key: str,
        generation: int,
        fields: Mapping[str, str | bytes],
        ttl: int,
    ) -> bool:
        """Write ``fields`` while run ``generation`` still holds ``key`` (live), and
        keep the checkpoint at least ``ttl`` seconds; False when the run has moved
        on (replaced, cancelled, finished): nothing is written then."""
        args: list[str | bytes] = [self.keys.prefix, key, str(generation), str(ttl)]
        for name, value in fields.items():
            args.append(name)
            args.append(value)
        keys = [self.keys.runs(key), self.keys.steps(key)]
        return bool(await self.run_script(scripts.STEPS_WRITE, keys, args))
