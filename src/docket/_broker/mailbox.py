"""Signals: delivering one, taking a kept one, and reading what a task received
(``broker.mailbox``; the worker's own wake-up and cancel channels are
``broker.signals``, something else).

A task waits for a signal through its gate (``lua/_mailbox.lua``, beside the
workflow gates of ``_gates.lua``): schedule.lua opens the wait when the task is
added, or when a running task parks again, sent as "~" pairs (``wait_fields``);
signal.lua delivers; stream_due.lua times waits out. This module packs those
pairs, seals payloads for the script and reads a gate's signal fields back.

The internal API other parts build on:

- ``wait_fields(waits, now)``: the "~" pairs of a ``ScheduleRequest.gate`` that
  park the key waiting on each ``SignalWait`` (a kept signal is consumed in the
  same step, and schedule.lua then answers "OK" instead of "WAITING"). With mode
  "reschedule" and the running message's id, a running task parks again.
- ``await broker.mailbox.send(name, payload, lookback)``: deliver; True when a
  waiting task received it (the oldest waiter), False when it was kept
  (``lookback`` seconds; 0: dropped).
- ``await broker.mailbox.take(name)``: consume the oldest kept signal now
  (None when there is none).
- ``await broker.mailbox.received(key)``: what the run of ``key`` waits for or
  received, by signal name (``Received``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import _clock, _codec
from .._text import as_text_replacing
from . import scripts
from .store import Store

# Marks of a signal wait in a gate ("s:<name>").
WAITING, RECEIVED, TIMED_OUT = "w", "r", "t"


@dataclass(frozen=True, slots=True)
class SignalWait:
    """One wait to open: the signal's name, its deadline (epoch seconds, None: no
    timeout), and whether to wait again when this run already received it."""

    name: str
    deadline: float | None = None
    fresh: bool = False


@dataclass(frozen=True, slots=True)
class Received:
    """One signal wait of a run as its gate holds it: ``mark`` is "w" (waiting),
    "r" (received: ``payload`` holds the sealed payload) or "t" (timed out);
    ``since`` when the wait started and ``deadline`` its timeout (epoch seconds)."""

    name: str
    mark: str
    payload: bytes | None
    since: float | None
    deadline: float | None

    @property
    def waiting(self) -> bool:
        return self.mark == WAITING


def wait_fields(
    waits: Sequence[SignalWait], now: float | None = None
) -> tuple[tuple[str, str], ...]:
    """The "~" pairs that open ``waits`` in schedule.lua (see its header)."""
    pairs: list[tuple[str, str]] = []
    for wait in waits:
        pairs.append(("~signal", wait.name))
        if wait.deadline is not None:
            pairs.append(("~deadline", repr(wait.deadline)))
        if wait.fresh:
            pairs.append(("~fresh", "1"))
    if pairs:
        pairs.append(("~clock", repr(_clock.time() if now is None else now)))
    return tuple(pairs)


def check_signal_name(name: str) -> str:
    """``name``, if it can name a signal (a non-empty string of valid text); a
    ValueError says what is wrong with it otherwise."""
    if not isinstance(name, str) or not name:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ValueError(f"A signal needs a non-empty name, got {name!r}")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"Signal name {name!r} is not valid text") from None
    return name


def _number(value: bytes | str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def decode_waits(raw: dict[bytes, bytes] | dict[str, str]) -> dict[str, Received]:
    """The signal waits of a gate hash, by name (sorted)."""
    fields: dict[str, bytes | str] = {as_text_replacing(k): v for k, v in raw.items()}
    waits: dict[str, Received] = {}
    for field in sorted(fields):
        if not field.startswith("s:"):
            continue
        name = field[2:]
        payload = fields.get(f"v:{name}")
        waits[name] = Received(
            name,
            as_text_replacing(fields[field]),
            payload.encode() if isinstance(payload, str) else payload,
            _number(fields.get(f"a:{name}")),
            _number(fields.get(f"d:{name}")),
        )
    return waits


def seal_payload(codec: _codec.Codec, name: str, value: Any) -> bytes:
    """``value`` as signal ``name`` carries it: serialized by the docket's codec
    and signed for that name when the docket signs ("<serializer>\\n<signature>\\n"
    then the serialized bytes)."""
    sealed = codec.dumps(_codec.SIGNAL, [name.encode()], value)
    (blob,) = sealed.blobs
    return b"%s\n%s\n%s" % (sealed.serializer.encode(), sealed.signature or b"", blob)


def open_payload(codec: _codec.Codec, name: str, stored: bytes) -> Any:
    """The value of a payload signal ``name`` carried, verified first: raises
    ``UnverifiedPayload`` for one not signed for this docket and name (a forgery,
    or one signed with other keys) and ``MalformedPayload`` for one that is not a
    sealed payload at all."""
    parts = stored.split(b"\n", 2)
    if len(parts) != 3:
        raise _codec.MalformedPayload("it is not a sealed signal payload")
    serializer, signature, blob = parts
    sealed = _codec.Sealed(
        serializer.decode(errors="replace"), (blob,), signature or None
    )
    (value,) = codec.loads(_codec.SIGNAL, [name.encode()], sealed)
    return value


class MailboxStore(Store):
    """Signals of one docket (see the module's docstring)."""

    async def send(self, name: str, payload: bytes, lookback: float) -> bool:
        """Deliver signal ``name``: True when a waiting task received it, False
        when nobody waited (kept ``lookback`` seconds; 0: dropped)."""
        k = self.keys
        reply = await self.run_script(
            scripts.SIGNAL,
            [k.signal_waiters(name), k.signals_kept(name), k.listening],
            [k.prefix, "send", name, repr(_clock.time()), payload, repr(lookback)],
        )
        return int(reply) == 1

    async def take(self, name: str) -> bytes | None:
        """Consume the oldest signal ``name`` kept for a waiter still to come."""
        k = self.keys
        reply = await self.run_script(
            scripts.SIGNAL,
            [k.signal_waiters(name), k.signals_kept(name), k.listening],
            [k.prefix, "take", name, repr(_clock.time())],
        )
        if reply is None or reply is False:
            return None
        return reply.encode() if isinstance(reply, str) else bytes(reply)

    async def received(self, key: str) -> dict[str, Received]:
        """The signal waits of the current run of ``key``, by name (empty when it
        has none, or its gate is gone)."""
        return decode_waits(await self.client.hgetall(self.keys.gate(key)))

    async def waiters(self, name: str) -> list[str]:
        """The keys of the tasks waiting for signal ``name``, oldest wait first."""
        members = await self.client.zrange(self.keys.signal_waiters(name), 0, -1)
        return [as_text_replacing(m) for m in members]

    async def kept(self, name: str) -> int:
        """How many signals ``name`` are kept (some may be past their lookback)."""
        return int(await self.client.llen(self.keys.signals_kept(name)))


__all__ = [
    "RECEIVED",
    "TIMED_OUT",
    "WAITING",
    "MailboxStore",
    "Received",
    "SignalWait",
    "check_signal_name",
    "decode_waits",
    "open_payload",
    "seal_payload",
    "wait_fields",
]
