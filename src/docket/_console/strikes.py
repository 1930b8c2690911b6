"""The strike methods of a Docket (mixed into ``Docket``): strike and restore
by task name, parameter, operator and value, through the docket's StrikeList."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from ..instrumentation import span
from ..strikelist import LiteralOperator, Operator, StrikeList


class DocketStrikes:
    """``strike``/``restore``/``wait_for_strikes_loaded`` of a Docket."""

    strike_list: StrikeList

    def labels(self) -> dict[str, str]:
        raise NotImplementedError

    async def strike(
        self,
        function: Callable[..., Any] | str | None = None,
        parameter: str | None = None,
        operator: Operator | LiteralOperator = "==",
        value: Hashable | None = None,
    ) -> None:
        with span("docket.docket", "docket.strike", self.labels()):
            await self.strike_list.strike(function, parameter, operator, value)

    async def restore(
        self,
        function: Callable[..., Any] | str | None = None,
        parameter: str | None = None,
        operator: Operator | LiteralOperator = "==",
        value: Hashable | None = None,
    ) -> None:
        with span("docket.docket", "docket.restore", self.labels()):
            await self.strike_list.restore(function, parameter, operator, value)

    async def wait_for_strikes_loaded(self) -> None:
        await self.strike_list.wait_for_strikes_loaded()
