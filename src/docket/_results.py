"""Result storage: where results and exceptions live; an outcome recorded and read back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from datetime import datetime, timedelta
from typing import Any, Protocol

from key_value.aio.protocols import AsyncKeyValue

from . import _clock, _codec
from ._broker import Broker, Failure, Settlement
from ._handles import DocketHandle
from ._redis import Backend
from ._states import (
    TERMINAL,
    ExecutionCancelled,
    ExecutionState,
    NoRecordToWaitOn,
)


class BuiltinStore:
    """Results as JSON strings at ``P:results:K``, read and written by the broker.

    Used for memory:// and cluster URLs, where py-key-value's RedisStore cannot go
    (its keys carry no hash tag).
    """

    def __init__(self, broker: Broker) -> None:
        self._broker = broker

    async def get(
        self, key: str, *, collection: str | None = None
    ) -> dict[str, Any] | None:
        raw = await self._broker.results.read(key)
        return None if raw is None else json.loads(raw)

    async def put(
        self,
        key: str,
        value: dict[str, Any],
        *,
        collection: str | None = None,
        ttl: float | None = None,
    ) -> None:
        seconds = None if ttl is None else max(int(ttl), 1)
        await self._broker.results.write(key, json.dumps(value), seconds)


def _owned_redis_store(client: Any, collection: str) -> AsyncKeyValue:
    """py-key-value's RedisStore over ``client``, closing the client on exit."""
    from key_value.aio.stores.redis import RedisStore

    store = RedisStore(client=client, default_collection=collection)
    # The client is ours, not the user's: let the store's exit close it.
    store._client_provided_by_user = False  # pyright: ignore[reportPrivateUsage]
    return store


def default_store(backend: Backend, broker: Broker, collection: str) -> Any:
    """py-key-value's RedisStore for standalone Redis and Sentinel URLs, over its
    own decoding connection pool built like the docket's (TLS files, credentials,
    a custom pool's settings); the built-in store for memory:// and cluster URLs,
    and for a custom pool of a kind that cannot be copied."""
    if backend.is_memory or backend.is_cluster:
        return BuiltinStore(broker)
    client = backend.text_client()
    if client is None:
        return BuiltinStore(broker)
    return _owned_redis_store(client, collection)


async def store_value(
    docket: DocketHandle, key: str, document: dict[str, str]
) -> str | None:
    """Store a result/exception document under ``key``; None when TTL is 0."""
    ttl = docket.ttl_seconds
    if ttl <= 0:
        return None
    await docket.result_storage.put(key, document, ttl=ttl)
    return key


async def fetch_outcome(
    docket: DocketHandle,
    key: str,
    state: ExecutionState,
    error: str | None,
    result_key: str | None,
    generation: int,
) -> Any:
    """The result of a finished execution, or raise its exception (or cancellation).

    ``generation`` is the run record's: with signing keys, a stored outcome must
    have been signed by that run or a later one (an earlier run's outcome copied
    over the latest one is refused)."""
    if state is ExecutionState.CANCELLED:
        raise ExecutionCancelled(f"Execution {key} was cancelled")
    document = None
    if result_key is not None:
        document = await docket.result_storage.get(result_key)
    if not isinstance(document, dict) or "data" not in document:
        document = None  # missing or not a result document: as if nothing was stored
    codec = docket.codec
    if state is ExecutionState.FAILED:
        if document is not None:
            raise codec.read_document(key, document, generation, error=True)
        raise Exception(error or "Task execution failed")
    if document is None:
        return None
    return codec.read_document(key, document, generation)


class RunProgress(Protocol):
    """What recording an outcome needs of an execution's progress."""

    written: bool

    def discard_pending(self) -> None: ...

    def reset(self) -> None: ...


class ExecutionOutcome:
    """How an Execution records its outcome (``settlement``, ``mark_as_*``) and
    waits for its end and reads it back (``subscribe``, ``get_result``); mixed
    into ``Execution``."""

    _docket: DocketHandle
    _key: str
    _generation: int
    _redelivered: bool
    _function_name: str
    when: datetime
    message_id: bytes | None
    acknowledged: bool
    started_at: datetime | None
    completed_at: datetime | None
    _recorded: bool
    _record_generation: int
    state: ExecutionState
    error: str | None
    result_key: str | None

    async def sync(self) -> None:
        raise NotImplementedError

    def _run_progress(self) -> RunProgress:
        """This execution's progress (``Execution.progress``)."""
        raise NotImplementedError

    def settlement(
        self,
        state: ExecutionState,
        error: str = "",
        stored: bool = False,
        completed_at: str = "",
        progress: bool | None = None,
        failure: Failure | None = None,
    ) -> Settlement:
        """The final word on this execution, for settle.lua.

        ``completed_at`` "" is stamped once per settled batch. The progress hash is
        deleted when this run wrote progress (or may have, when redelivered) unless
        ``progress`` says otherwise. A ``failure`` is kept among the failed tasks."""
        if progress is None:
            progress = self._run_progress().written or self._redelivered
        runtime = wait = None
        if self.started_at is not None:
            started = self.started_at.timestamp()
            runtime, wait = _clock.time() - started, started - self.when.timestamp()
        return Settlement(
            key=self._key,
            generation=self._generation,
            message_id=self.message_id,
            state=state.value,
            completed_at=completed_at,
            error=error,
            stored_result=stored,
            wrote_progress=progress,
            function=self._function_name,
            failure=failure,
            runtime=runtime,
            wait=wait,
        )

    async def _finish(
        self, state: ExecutionState, error: str | None, result_key: str | None
    ) -> None:
        self.acknowledged = True
        self._run_progress().discard_pending()
        completed = _codec.now()
        settlement = self.settlement(
            state, error or "", result_key is not None, _codec.iso(completed), True
        )
        await self._docket.broker.runs.settle([settlement], self._docket.ttl_seconds)
        self.state, self.completed_at = state, completed
        self.error, self.result_key = error, result_key
        self._run_progress().reset()

    async def mark_as_completed(self, result_key: str | None = None) -> None:
        await self._finish(ExecutionState.COMPLETED, None, result_key)

    async def mark_as_failed(
        self, error: str | None = None, result_key: str | None = None
    ) -> None:
        await self._finish(ExecutionState.FAILED, error, result_key)

    async def mark_as_cancelled(self) -> None:
        await self._finish(ExecutionState.CANCELLED, None, None)

    def subscribe(self) -> AsyncGenerator[Any]:
        raise NotImplementedError

    async def get_result(
        self, *, timeout: timedelta | None = None, deadline: datetime | None = None
    ) -> Any:
        """Wait for the execution to finish; return its result or raise its error."""
        if timeout is not None and deadline is not None:
            raise ValueError("Cannot specify both timeout and deadline")
        if timeout is not None:
            deadline = _codec.now() + timeout
        if self.state not in TERMINAL:
            await self._wait_for_terminal(deadline)
            final_state, final_error = self.state, self.error
            await self.sync()
            if self.state not in TERMINAL:  # the record is gone (execution_ttl=0)
                self.state, self.error = final_state, final_error
        return await fetch_outcome(
            self._docket,
            self._key,
            self.state,
            self.error,
            self.result_key,
            self._record_generation,
        )

    async def _wait_for_terminal(self, deadline: datetime | None) -> None:
        async def wait() -> None:
            first = True
            async for event in self.subscribe():
                if first and not self._recorded and self._docket.ttl_seconds <= 0:
                    raise NoRecordToWaitOn(
                        f"Execution {self._key} has no record to wait on: its docket "
                        "has execution_ttl=0 (fire-and-forget), which keeps nothing "
                        "once a task ends, so its outcome cannot be read"
                    )
                first = False
                state = event.get("state") if event.get("type") == "state" else None
                if isinstance(state, ExecutionState) and state in TERMINAL:
                    self.state = state
                    error = event.get("error")
                    if isinstance(error, str):
                        self.error = error
                    return

        if deadline is None:
            await wait()
            return
        remaining = (deadline - _codec.now()).total_seconds()
        try:
            if remaining <= 0:
                raise asyncio.TimeoutError
            await asyncio.wait_for(wait(), remaining)
        except NoRecordToWaitOn:
            raise
        except asyncio.TimeoutError:
            raise TimeoutError(
                f"Timeout waiting for execution {self._key} to complete"
            ) from None


__all__ = [
    "BuiltinStore",
    "ExecutionOutcome",
    "default_store",
    "fetch_outcome",
    "store_value",
]
