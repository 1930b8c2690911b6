"""What every group of broker operations shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._keys import Keyspace
from .._redis import Backend
from .batcher import Batcher
from .scripts import Arg, Script


class BrokerBase:
    backend: Backend
    client: Any
    keys: Keyspace
    group: str

    batcher: Batcher | None

    async def run_script(
        self, script: Script, keys: Sequence[str], args: Sequence[Arg]
    ) -> Any:
        if self.batcher is not None:
            values = [a if isinstance(a, (str, bytes)) else str(a) for a in args]
            return await self.batcher.call(script, keys, values)
        return await script(
            self.client, keys, args, publish_after=self.backend.is_memory
        )
