"""``CurrentDocket()`` and ``CurrentWorker()``: the docket and worker of a run.

They are typed as the public ``Docket`` and ``Worker`` classes, which sit above
the dependency layer, so only this module names them (for the type checker) and
nothing inside the package imports it: ``docket.dependencies`` re-exports it for
users. At run time the values come from the context variables the worker sets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from ._contextual import DocketOfRun, WorkerOfRun

if TYPE_CHECKING:
    from ..docket import Docket
    from ..worker import Worker


def CurrentDocket() -> Docket:
    """Inject the ``Docket`` the worker is serving."""
    return cast("Docket", DocketOfRun())


def CurrentWorker() -> Worker:
    """Inject the ``Worker`` executing the task."""
    return cast("Worker", WorkerOfRun())


__all__ = ["CurrentDocket", "CurrentWorker"]
