"""``schedule_many``: place executions already built, a chunk per round trip.

pydocket exposes this engine of its batch methods as
``docket.execution.schedule_many(redis, executions, *, replace, chunk_size)``.
Here ``Docket.add_many``/``replace_many`` do more (strike checks, counters,
spans, building while sending); this is the bare placement, for code that
built its executions itself. Each execution's own docket places it (the
``redis`` argument is accepted for the signature's sake: every execution
already knows where it goes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from redis.exceptions import RedisError

from ._broker import Broker, ScheduleRequest
from ._states import Disposition


class _Docket(Protocol):
    @property
    def broker(self) -> Broker: ...


class Placeable(Protocol):
    """What schedule_many needs of an Execution."""

    disposition: Disposition
    schedule_exception: BaseException | None

    @property
    def docket(self) -> Any: ...

    def schedule_request(
        self,
        replace: bool = False,
        reschedule_message: bytes | None = None,
        expected_generation: int = 0,
    ) -> ScheduleRequest: ...

    def scheduled(self, placed: str, immediate: bool) -> Disposition: ...


async def schedule_many(
    redis: Any,
    executions: Sequence[Placeable],
    *,
    replace: bool,
    chunk_size: int | None = 1000,
) -> None:
    """Place ``executions`` in order, ``chunk_size`` calls per round trip (None:
    all in one). Each gets its own disposition; a Redis error for one call marks
    only that execution ``FAILED`` (the error in ``schedule_exception``); a lost
    connection raises, leaving unsent executions ``LOADED``. No strike check and
    no counters: those belong to ``add_many``/``replace_many``."""
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    step = chunk_size or max(len(executions), 1)
    for start in range(0, len(executions), step):
        chunk = executions[start : start + step]
        by_docket: dict[int, list[Placeable]] = {}
        for execution in chunk:
            by_docket.setdefault(id(execution.docket), []).append(execution)
        for group in by_docket.values():
            docket: _Docket = group[0].docket
            requests = [execution.schedule_request(replace) for execution in group]
            outcomes = await docket.broker.schedule_batch(requests)
            for execution, request, outcome in zip(
                group, requests, outcomes, strict=True
            ):
                if isinstance(outcome, RedisError):
                    execution.disposition = Disposition.FAILED
                    execution.schedule_exception = outcome
                else:
                    execution.scheduled(outcome, request.immediate)


__all__ = ["Placeable", "schedule_many"]
