"""``CurrentDocket()`` and ``CurrentWorker()``: the docket and worker of a run.

They are typed as the public ``Docket`` and ``Worker`` classes, which sit above
the dependency layer, so only this module names them (for the type checker) and
nothing inside the package imports it: ``docket.dependencies`` re-exports it for
users. At run time the values come from the context variables the worker sets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from uncalled_for import Provider

from .._context import current_docket, current_worker
from .._handles import DocketHandle, WorkerHandle

if TYPE_CHECKING:
    from ..docket import Docket
    from ..worker import Worker


class _CurrentDocket(Provider[DocketHandle]):
    available: ClassVar[bool] = True

    async def __aenter__(self) -> DocketHandle:
        return current_docket.get()


class _CurrentWorker(Provider[WorkerHandle]):
    available: ClassVar[bool] = True

    async def __aenter__(self) -> WorkerHandle:
        return current_worker.get()


def CurrentDocket() -> Docket:
    """Inject the ``Docket`` the worker is serving."""
    return cast("Docket", _CurrentDocket())


def CurrentWorker() -> Worker:
    """Inject the ``Worker`` executing the task."""
    return cast("Worker", _CurrentWorker())


__all__ = ["CurrentDocket", "CurrentWorker"]
