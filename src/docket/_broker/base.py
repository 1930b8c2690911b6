"""What every group of broker operations shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._keys import Keyspace
from .._redis import Backend
from .scripts import Arg, Script


class BrokerBase:
    backend: Backend
    client: Any
    keys: Keyspace
    group: str

    async def run_script(
        self, script: Script, keys: Sequence[str], args: Sequence[Arg]
    ) -> Any:
        return await script(
            self.client, keys, args, publish_after=self.backend.is_memory
        )
