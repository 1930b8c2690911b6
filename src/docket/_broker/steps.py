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

from collections.abc import Mapping

from . import scripts
from .store import Store

MARK = "c:"
VALUE = "v:"
POINT = "s:"


class StepStore(Store):
    """Reading and writing one run's checkpoint."""

    async def read(self, key: str) -> dict[str, bytes]:
        """Every field of the checkpoint of ``key``'s run (empty when it has none)."""
        raw = await self.client.hgetall(self.keys.steps(key))
        return {
            (name.decode(errors="replace") if isinstance(name, bytes) else name): value
            for name, value in raw.items()
        }

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
