"""``Parents()``: the executions a task added with ``after=`` waited for."""

from __future__ import annotations

import asyncio
from typing import ClassVar, cast

from uncalled_for import Provider

from ..execution import Execution
from ._blips import through_blips
from ._context import current_docket, current_execution

# Parent records read at once (each read may take a connection of the pool).
READ_AT_ONCE = 32


class _Parents(Provider[dict[str, Execution]]):
    available: ClassVar[bool] = True

    async def __aenter__(self) -> dict[str, Execution]:
        # Read through a Redis blip (a restart as the follower starts must not
        # fail it): the reads are safe to repeat.
        return await through_blips(self._read)

    async def _read(self) -> dict[str, Execution]:
        execution = current_execution.get()
        docket = current_docket.get()
        gate = await docket.broker.gates.get(execution.key)
        if gate is None:
            return {}
        keys = list(gate.parents)
        loaded: list[object | None] = []
        for start in range(0, len(keys), READ_AT_ONCE):  # within the pool's size
            chunk = keys[start : start + READ_AT_ONCE]
            loaded += await asyncio.gather(*(docket.get_execution(k) for k in chunk))
        return {
            k: cast(Execution, e)
            for k, e in zip(keys, loaded, strict=True)
            if e is not None
        }


def Parents() -> dict[str, Execution]:
    """The parents of the running task by key (group members included), each an
    Execution synced from its run record: ``await e.get_result()`` gives its result
    (raises its exception when it failed). Empty for a task added without
    ``after=``. The records stay while any follower still has to run."""
    return cast(dict[str, Execution], _Parents())


__all__ = ["Parents"]
