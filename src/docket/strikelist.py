"""``StrikeList``: strike rules, optionally shared through the ``P:strikes`` stream.

Whole-function strikes: we use a *cleaner model* than the
reference. A whole-function strike is tracked apart from that function's
parameter strikes: it stays in effect when parameter strikes are added for the
same function, and a function-only restore lifts it even while parameter
strikes remain. ``task_strikes`` shows a whole-struck function as ``{}`` when it
has no parameter strikes; ``struck_functions`` lists every whole-struck one.

Senders raise ``ValueError`` for an unknown operator or a malformed ``between``
range. A value that cannot be hashed (a dict, a list) is accepted and sent, as
pydocket does, but it is logged at WARNING and ignored wherever it is applied: it
never matches. Neither does a value an argument cannot be compared with. Log lines and
the ``docket_strikes_in_effect`` gauge follow effective changes only, so a
repeated strike neither logs again nor counts twice.

The log is applied in order, each entry once (senders catch up to their own entry;
the monitor skips applied ones), so a late read never undoes a newer instruction.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context
from redis.credentials import CredentialProvider
from typing_extensions import Self

from docket import instrumentation as m
from docket._broker import Broker
from docket._codec import Codec, UnverifiedPayload
from docket._defaults import (
    BACKOFF_CAP,
    REDIS_PROBE_INTERVAL,
    STRIKE_BLOCK_MS,
    STRIKE_READ_COUNT,
)
from docket._keys import Keyspace
from docket._redis import Backend, key_prefix, open_backend, redact_url
from docket._redis.credentials import check_credentials
from docket._redis.faults import Backoff, Fault, classify
from docket._redis.outages import OutageLog, outage_log
from docket._strikes import (
    COMPARE,
    FunctionLike,
    LiteralOperator,
    Operator,
    OperatorLike,
    Pair,
    Restore,
    Strike,
    StrikeInstruction,
    bound_arguments,
    incompatible,
    is_usable,
    logger,
    stream_order,
)

__all__ = [
    "LiteralOperator",
    "Operator",
    "Restore",
    "Strike",
    "StrikeInstruction",
    "StrikeList",
]

RETRY_DELAY = 1.0  # the monitor's first pause after a fault (then doubling)
FOLLOW = "follow strikes"  # what the outage log calls the monitor's work
Condition = Callable[[Any], bool]


class StrikeList:
    """Strike rules, local only (``url=None``) or following a docket's stream."""

    def __init__(
        self,
        url: str | None = None,
        name: str = "strikelist",
        enable_internal_instrumentation: bool = False,
        credential_provider: CredentialProvider | None = None,
        connection_pool: Any | None = None,
        *,
        signing_keys: Sequence[str | bytes] | None = None,
        serializer: str | None = None,
    ) -> None:
        check_credentials(url, credential_provider, connection_pool)
        self.url, self.name = url, name
        self.credential_provider = credential_provider
        # Strike values are serialized and signed like task arguments, for the
        # docket this list follows (its name); None reads DOCKET_SIGNING_KEYS /
        # DOCKET_SERIALIZER, as Docket does.
        self.codec = Codec.configured(serializer, signing_keys, name)
        self._connection_pool = connection_pool  # a Docket's custom pool, shared
        self.enable_internal_instrumentation = enable_internal_instrumentation
        self._whole: set[str] = set()
        # (function or None for every task, parameter) -> {(operator, value)}
        self._rules: dict[tuple[str | None, str], set[Pair]] = {}
        self._conditions: list[Condition] = []
        self._entered, self._last_id = False, "0-0"
        self._stack: AsyncExitStack | None = None
        self._backend: Backend | None = None
        self._broker: Broker | None = None
        self._monitor_task: asyncio.Task[None] | None = None
        self._stopping, self._loaded = asyncio.Event(), asyncio.Event()

    def __repr__(self) -> str:
        where = "local" if self.url is None else redact_url(self.url)
        return f"StrikeList(name={self.name!r}, url={where!r})"

    @property
    def prefix(self) -> str:
        if self._backend is not None:
            return self._backend.prefix_for(self.name)
        return key_prefix(self.name, self.url)

    @property
    def strike_key(self) -> str:
        return Keyspace(self.prefix).strikes

    @property
    def task_strikes(self) -> dict[str, dict[str, set[Pair]]]:
        """A copy: function -> parameter -> {(operator, value)}."""
        view: dict[str, dict[str, set[Pair]]] = {f: {} for f in self._whole}
        for (function, parameter), pairs in self._rules.items():
            if function is not None:
                view.setdefault(function, {})[parameter] = set(pairs)
        return view

    @property
    def parameter_strikes(self) -> dict[str, set[Pair]]:
        """A copy: parameter -> {(operator, value)}, applying to every task."""
        return {p: set(s) for (f, p), s in self._rules.items() if f is None}

    @property
    def struck_functions(self) -> frozenset[str]:
        return frozenset(self._whole)

    def update(self, instruction: StrikeInstruction) -> bool:
        """Apply ``instruction`` locally only; True when it changed anything."""
        striking = isinstance(instruction, Strike)
        if not self._apply(instruction, striking):
            return False
        verb, repr_ = "Striking" if striking else "Restoring", instruction.call_repr()
        logger.info("%s %s", verb, repr_, extra={"docket.name": self.name})
        labels = {"docket.name": self.name, **instruction.labels()}
        m.STRIKES_IN_EFFECT.add(1 if striking else -1, labels)
        return True

    def _apply(self, instruction: StrikeInstruction, striking: bool) -> bool:
        function, parameter = instruction.function, instruction.parameter
        if parameter is None:
            if function is None or (function in self._whole) == striking:
                return False
            (self._whole.add if striking else self._whole.discard)(function)
            return True
        pair = (instruction.operator, instruction.value)
        if not is_usable(instruction.value):  # unhashable: recorded, never matches
            incompatible(*pair)
            return False
        pairs = self._rules.setdefault((function, parameter), set())
        changed = (pair in pairs) != striking
        (pairs.add if striking else pairs.discard)(pair)
        if not pairs:
            del self._rules[(function, parameter)]
        return changed

    def add_condition(self, condition: Condition) -> None:
        """Also count executions for which ``condition(execution)`` is true."""
        self._conditions.append(condition)

    def remove_condition(self, condition: Condition) -> None:
        if condition in self._conditions:
            self._conditions.remove(condition)

    def is_stricken(self, target: Any) -> bool:
        """Whether an Execution (or, for parameter strikes only, a mapping) is struck."""
        if not (self._rules or self._whole or self._conditions):
            return False
        if isinstance(target, Mapping):
            items: Mapping[str, Any] = target
            return any(self._matches(None, k, v) for k, v in items.items())
        if any(condition(target) for condition in reversed(self._conditions)):
            return True
        name: str = target.function_name
        if name in self._whole:
            return True
        if not self._rules:
            return False
        return any(
            self._matches(name, parameter, value)
            or self._matches(None, parameter, value)
            for parameter, value in bound_arguments(target).items()
        )

    def _matches(self, function: str | None, parameter: str, argument: Any) -> bool:
        for operator, value in self._rules.get((function, parameter), ()):
            try:
                if COMPARE[operator](argument, value):
                    return True
            except Exception:  # an argument whose comparison raises never matches
                incompatible(operator, value)
        return False

    async def strike(
        self,
        function: FunctionLike = None,
        parameter: str | None = None,
        operator: OperatorLike = "==",
        value: Any = None,
    ) -> None:
        await self._issue(Strike.build(function, parameter, operator, value))

    async def restore(
        self,
        function: FunctionLike = None,
        parameter: str | None = None,
        operator: OperatorLike = "==",
        value: Any = None,
    ) -> None:
        await self._issue(Restore.build(function, parameter, operator, value))

    async def _issue(self, instruction: StrikeInstruction) -> None:
        if self.url is None:
            self.update(instruction)
        else:
            await self.send_instruction(instruction)

    async def send_instruction(self, instruction: StrikeInstruction) -> None:
        """Append ``instruction`` to the strike stream, then apply it locally."""
        if self._broker is None:
            raise RuntimeError(
                "Cannot send strike instruction: not connected to Redis. "
                "Give the StrikeList a URL and enter it ('async with') first."
            )
        message = instruction.as_message(self.codec)
        added = await self._broker.strikes.append(message)
        # Apply the log in order up to our own entry, so that an older instruction
        # the monitor has not applied yet cannot land after (and undo) this one.
        self._apply_entries(await self._broker.strikes.range(self._last_id, added))

    async def __aenter__(self) -> Self:
        if self.url is not None and self._entered:
            raise AssertionError("StrikeList is not reentrant")
        if self.url is not None:
            stack = AsyncExitStack()
            self._backend = await stack.enter_async_context(
                open_backend(self.url, self._connection_pool, self.credential_provider)
            )
            self._broker = Broker(self._backend, Keyspace(self.prefix))
            self._stack, self._last_id = stack, "0-0"
            self._stopping, self._loaded = asyncio.Event(), asyncio.Event()
            name = f"docket.strikelist:{self.name}"
            self._monitor_task = asyncio.create_task(self._monitor(), name=name)
        self._entered = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._entered = False
        task, self._monitor_task = self._monitor_task, None
        stack, self._stack = self._stack, None
        try:
            if task is not None:
                self._stopping.set()
                while not task.done():  # a cancel a Redis read swallowed: again
                    task.cancel()
                    await asyncio.wait([task], timeout=1.0)
                await asyncio.gather(task, return_exceptions=True)
        finally:
            self._backend = self._broker = None
            if stack is not None:
                await stack.aclose()

    async def wait_for_strikes_loaded(self) -> None:
        """Return once the initial replay of the strike stream has finished (at once
        for a local list, or one that is not entered)."""
        if self.url is not None and self._entered:
            await self._loaded.wait()

    async def _monitor(self) -> None:
        """Follow the strike log until stopped. A Redis fault is told to the
        process's outage log (the URL without its password, once per outage),
        followed by a pause that doubles up to ``BACKOFF_CAP`` (cut short when a
        PING is answered), then the whole log is read again (``_reload``)."""
        if not self.enable_internal_instrumentation:
            # OpenTelemetry's instrumentations skip work under this context key;
            # it is the documented way to silence them, without a public alias.
            key = otel_context._SUPPRESS_INSTRUMENTATION_KEY  # pyright: ignore[reportPrivateUsage]
            otel_context.attach(otel_context.set_value(key, True))
        assert self.url is not None and self._broker is not None
        outage = outage_log(self.url)
        backoff = Backoff(RETRY_DELAY, max(RETRY_DELAY, BACKOFF_CAP.total_seconds()))
        failed = False
        while not self._stopping.is_set():
            try:
                if failed:
                    await self._reload()
                    outage.succeeded(FOLLOW)  # before a read that may block long
                    failed = False
                await self._follow(outage, backoff)
            except Exception as error:
                delay = backoff.next_delay()
                if classify(error) is Fault.BUG:
                    logger.exception("Strike monitor failed, retrying in %.1fs", delay)
                else:  # any Redis fault: unreachable, OOM, read-only, refused...
                    m.REDIS_DISRUPTIONS.add(1, {"docket": self.name})
                    outage.failed(FOLLOW, error)
                failed = True
                await self._pause(delay)

    async def _pause(self, delay: float) -> None:
        """Wait ``delay`` seconds, or until Redis answers a PING (tried every
        ``REDIS_PROBE_INTERVAL``), or until the list is closed."""
        assert self._broker is not None
        probe = REDIS_PROBE_INTERVAL.total_seconds()
        deadline = time.monotonic() + delay
        while not self._stopping.is_set():
            wait = min(probe, deadline - time.monotonic())
            if wait <= 0:
                return
            try:
                await asyncio.wait_for(self._stopping.wait(), wait)
                return
            except asyncio.TimeoutError:
                pass
            try:
                await asyncio.wait_for(self._broker.ping(), probe * 4)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                continue

    async def _follow(self, outage: OutageLog, backoff: Backoff) -> None:
        assert self._broker is not None
        broker = self._broker
        # Replay without blocking until a read comes back empty, then block.
        while not self._stopping.is_set():
            block = None
            if self._loaded.is_set() and self._backend is not None:
                block = self._backend.longest_block_ms(STRIKE_BLOCK_MS)
            entries = await broker.strikes.read(self._last_id, STRIKE_READ_COUNT, block)
            outage.succeeded(FOLLOW)
            backoff.reset()
            if not entries:
                self._loaded.set()
            self._apply_entries(entries)

    async def _reload(self) -> None:
        """Read the whole strike log again and make the rules in force match it:
        after a reconnect, strikes Redis no longer holds (it restarted without
        its data, or the log was deleted) stop applying, and every change is
        logged and counted as a strike or restore would be."""
        assert self._broker is not None
        fresh = StrikeList(name=self.name)
        fresh.codec = self.codec
        last = "0-0"
        while True:
            entries = await self._broker.strikes.read(last, STRIKE_READ_COUNT, None)
            if not entries:
                break
            last = entries[-1][0]
            fresh._apply_entries(entries, quiet=True)
        for instruction in _differences(self, fresh):
            self.update(instruction)
        self._last_id = last

    def _apply_entries(
        self, entries: list[tuple[str, Mapping[Any, Any]]], quiet: bool = False
    ) -> None:
        """Apply log entries newer than the last one applied, in order, once each
        (``quiet``: without logging or counting them).

        Both the monitor and a sender catching up apply entries; whichever comes
        second skips what the other already did (no await happens in between)."""
        for message_id, fields in entries:
            if stream_order(message_id) <= stream_order(self._last_id):
                continue
            self._last_id = message_id
            try:
                instruction = StrikeInstruction.from_message(fields, self.codec)
            except UnverifiedPayload as problem:
                logger.error("Skipping strike %s: %s", message_id, problem)
                continue
            except Exception:
                logger.exception("Skipping unreadable strike %s", message_id)
                continue
            if quiet:
                self._apply(instruction, isinstance(instruction, Strike))
            else:
                self.update(instruction)


def _differences(current: StrikeList, wanted: StrikeList) -> list[StrikeInstruction]:
    """The restores, then the strikes, that turn ``current``'s rules into
    ``wanted``'s."""
    changes: list[StrikeInstruction] = []
    for function in sorted(current.struck_functions - wanted.struck_functions):
        changes.append(Restore.build(function, None, "==", None))
    now, then = _rule_set(current), _rule_set(wanted)
    for function, parameter, (operator, value) in now - then:
        changes.append(Restore.build(function, parameter, operator, value))
    for function in sorted(wanted.struck_functions - current.struck_functions):
        changes.append(Strike.build(function, None, "==", None))
    for function, parameter, (operator, value) in then - now:
        changes.append(Strike.build(function, parameter, operator, value))
    return changes


def _rule_set(strikes: StrikeList) -> set[tuple[str | None, str, Pair]]:
    """Every parameter rule as (function or None for every task, parameter, pair)."""
    rules: set[tuple[str | None, str, Pair]] = set()
    for function, parameters in strikes.task_strikes.items():
        for parameter, pairs in parameters.items():
            rules.update((function, parameter, pair) for pair in pairs)
    for parameter, pairs in strikes.parameter_strikes.items():
        rules.update((None, parameter, pair) for pair in pairs)
    return rules
