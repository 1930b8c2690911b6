"""Result storage: where results and exceptions live, and waiting for them."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import _codec

if TYPE_CHECKING:
    from ._redis import Backend
    from .execution import Execution


class BuiltinStore:
    """Results as JSON strings at ``P:results:K`` on the docket's own backend.

    Used for memory:// and cluster URLs, where py-key-value's RedisStore cannot go
    (its keys carry no hash tag).
    """

    def __init__(self, backend: Backend, collection: str) -> None:
        self._client = backend.client
        self._collection = collection

    def _key(self, key: str) -> str:
        return f"{self._collection}:{key}"

    async def get(
        self, key: str, *, collection: str | None = None
    ) -> dict[str, Any] | None:
        import json

        raw = await self._client.get(self._key(key))
        return None if raw is None else json.loads(raw)

    async def put(
        self,
        key: str,
        value: dict[str, Any],
        *,
        collection: str | None = None,
        ttl: float | None = None,
    ) -> None:
        import json

        seconds = None if ttl is None else max(int(ttl), 1)
        await self._client.set(self._key(key), json.dumps(value), ex=seconds)


def _owned_redis_store(client: Any, collection: str) -> Any:
    """py-key-value's RedisStore over ``client``, closing the client on exit."""
    from key_value.aio.stores.redis import RedisStore

    store = RedisStore(client=client, default_collection=collection)
    # The client is ours, not the user's: let the store's exit close it.
    store._client_provided_by_user = False
    return store


def default_store(backend: Backend, url: str, collection: str) -> Any:
    """py-key-value's RedisStore for standalone Redis and Sentinel URLs, over its
    own decoding connection pool built like the docket's (TLS files, credentials,
    a custom pool's settings); the built-in store for memory:// and cluster URLs,
    and for a custom pool of a kind that cannot be copied."""
    if backend.is_memory or backend.is_cluster:
        return BuiltinStore(backend, collection)
    client = backend.text_client()
    if client is None:
        return BuiltinStore(backend, collection)
    return _owned_redis_store(client, collection)


async def store_value(execution: Execution, document: dict[str, str]) -> str | None:
    """Store a result/exception document under the key; None when TTL is 0."""
    docket = execution.docket
    ttl = docket._ttl_seconds
    if ttl <= 0:
        return None
    await docket.result_storage.put(execution.key, document, ttl=ttl)
    return execution.key


async def _wait_for_terminal(execution: Execution, deadline: datetime | None) -> None:
    from .execution import TERMINAL, ExecutionState

    async def wait() -> None:
        async for event in execution.subscribe():
            state = event.get("state") if event.get("type") == "state" else None
            if isinstance(state, ExecutionState) and state in TERMINAL:
                execution.state = state
                error = event.get("error")
                if isinstance(error, str):
                    execution.error = error
                return

    if deadline is None:
        await wait()
        return
    remaining = (deadline - _codec.now()).total_seconds()
    if remaining <= 0:
        raise TimeoutError(f"Timeout waiting for execution {execution.key} to complete")
    try:
        await asyncio.wait_for(wait(), remaining)
    except asyncio.TimeoutError:
        raise TimeoutError(
            f"Timeout waiting for execution {execution.key} to complete"
        ) from None


async def wait_and_fetch(
    execution: Execution, timeout: timedelta | None, deadline: datetime | None
) -> Any:
    from .execution import TERMINAL, ExecutionCancelled, ExecutionState

    if timeout is not None and deadline is not None:
        raise ValueError("Cannot specify both timeout and deadline")
    if timeout is not None:
        deadline = _codec.now() + timeout
    if execution.state not in TERMINAL:
        await _wait_for_terminal(execution, deadline)
        final_state, final_error = execution.state, execution.error
        await execution.sync()
        if execution.state not in TERMINAL:  # the record is gone (execution_ttl=0)
            execution.state, execution.error = final_state, final_error

    if execution.state is ExecutionState.CANCELLED:
        raise ExecutionCancelled(f"Execution {execution.key} was cancelled")
    document = None
    if execution.result_key is not None:
        document = await execution.docket.result_storage.get(execution.result_key)
    if execution.state is ExecutionState.FAILED:
        if document is not None:
            raise _codec.decode_value(document)
        raise Exception(execution.error or "Task execution failed")
    return None if document is None else _codec.decode_value(document)
