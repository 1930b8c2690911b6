"""FairShare weights and backlogs, for operators (mixed into Docket).

A task with a parameter annotated ``FairShare()`` shares the worker slots given to
it between that parameter's values; a value's weight (1 unless set) is its share
relative to the others: a value of weight 3 gets about three times the slots of a
value of weight 1 while both have work waiting. Weights live in Redis (one hash for
the docket), so every worker reads a change at its next release (well within a
second); they last until cleared.
"""

from __future__ import annotations

from .._broker import Broker
from .._broker.fair import FairDepth, check_weight
from ..annotations import check_fair_value
from .pausing import TaskLike, task_name


class FairShareWeights:
    """Fair-share weight and backlog methods of a Docket (mixed into ``Docket``)."""

    @property
    def broker(self) -> Broker:
        raise NotImplementedError

    async def set_fair_share_weight(
        self, task: TaskLike, value: str, weight: float
    ) -> None:
        """Give ``value`` of ``task``'s FairShare parameter the share ``weight``
        (a positive number; 1 is everyone's default)."""
        name, checked = task_name(task), check_fair_value(value)
        await self.broker.fair.set_weight(name, checked, check_weight(weight))

    async def get_fair_share_weight(self, task: TaskLike, value: str) -> float:
        """The weight of ``value`` (1.0 unless one was set)."""
        found = await self.broker.fair.weight(task_name(task), check_fair_value(value))
        return 1.0 if found is None else found

    async def clear_fair_share_weight(self, task: TaskLike, value: str) -> bool:
        """Back to the default weight; False when none was set."""
        name, checked = task_name(task), check_fair_value(value)
        return await self.broker.fair.clear_weight(name, checked)

    async def fair_share_weights(self) -> dict[tuple[str, str], float]:
        """Every weight set, as (task, value) -> weight."""
        return await self.broker.fair.weights()

    async def fair_share_backlogs(self) -> dict[str, list[FairDepth]]:
        """Per FairShare task with work waiting: each value's backlog (deepest
        first, at most 100 values), with its weight."""
        out: dict[str, list[FairDepth]] = {}
        for task in await self.broker.fair.tasks():
            depths = await self.broker.fair.depths(task)
            if depths:
                out[task] = depths
        return out


__all__ = ["FairShareWeights"]
