"""Running a worker as a service: signals, the health and metrics endpoints.

Shutdown, as the CLI does it:

* the first SIGTERM or SIGINT is a graceful stop: take no new work, let every
  in-flight task finish, then return (the CLI exits 0);
* a second signal, or ``shutdown_timeout`` running out after the first one,
  stops at once: in-flight tasks are cancelled, their messages stay pending and
  are redelivered after ``redelivery_timeout``; ``serve`` then raises
  ``ShutdownForced`` (the CLI exits 1).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal
from contextlib import ExitStack
from datetime import timedelta
from types import TracebackType
from typing import Any, Protocol

from .._errors import ShutdownForced as ShutdownForced
from ..instrumentation import healthcheck_server, metrics_server


class ServedWorker(Protocol):
    """What running as a service needs of a ``Worker``."""

    async def __aenter__(self) -> Any: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    async def run_forever(self) -> None: ...

    async def run_until_finished(self) -> None: ...

    def stop(self, graceful: bool = True) -> None: ...

    def is_healthy(self) -> bool: ...
    def health_warnings(self) -> list[str]: ...


logger = logging.getLogger("docket.worker")

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def import_function(path: str) -> Any:
    """Import ``module:function``: a module that is not there raises
    ModuleNotFoundError, a missing name AttributeError (as in pydocket), each
    naming what it looked for."""
    module_name, _, attribute = path.rpartition(":")
    if not module_name or not attribute:
        raise ValueError(f"Expected 'module:function', got {path!r}")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise AttributeError(
            f"module {module_name!r} has no attribute {attribute!r} (from {path!r})"
        ) from None


class _Shutdown:
    """Turns signals (and the grace period) into graceful, then forced, stops."""

    def __init__(self, worker: ServedWorker, timeout: timedelta | None) -> None:
        self.worker = worker
        self.timeout = timeout
        self.requested = False
        self.forced = False
        self._timer: asyncio.TimerHandle | None = None

    def on_signal(self, received: signal.Signals) -> None:
        if not self.requested:
            self.requested = True
            logger.info("Received %s, initiating graceful shutdown...", received.name)
            self.worker.stop(graceful=True)
            if self.timeout is not None:
                self._timer = asyncio.get_running_loop().call_later(
                    self.timeout.total_seconds(), self._expired
                )
        else:
            logger.warning(
                "Received %s again, stopping now; unfinished tasks will be redelivered",
                received.name,
            )
            self.force()

    def _expired(self) -> None:
        logger.warning(
            "Shutdown timeout of %s expired, stopping now; unfinished tasks will be "
            "redelivered",
            self.timeout,
        )
        self.force()

    def force(self) -> None:
        self.forced = True
        self.worker.stop(graceful=False)

    def cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


async def serve(
    worker: ServedWorker,
    until_finished: bool,
    healthcheck_port: int | None,
    metrics_port: int | None,
    shutdown_timeout: timedelta | None = None,
    http_host: str = "0.0.0.0",
) -> None:
    """Run ``worker`` until it finishes or a signal stops it."""
    loop = asyncio.get_running_loop()
    shutdown = _Shutdown(worker, shutdown_timeout)
    installed: list[signal.Signals] = []
    with ExitStack() as servers:
        servers.enter_context(
            healthcheck_server(
                host=http_host,
                port=healthcheck_port,
                probe=worker.is_healthy,
                notes=worker.health_warnings,
            )
        )
        servers.enter_context(metrics_server(host=http_host, port=metrics_port))
        for sig in SIGNALS:
            try:
                loop.add_signal_handler(sig, shutdown.on_signal, sig)
                installed.append(sig)
            except (NotImplementedError, RuntimeError):  # pragma: no cover (Windows)
                pass
        try:
            async with worker:
                if not shutdown.requested:  # a signal may come while entering
                    await _run(worker, until_finished, shutdown)
        finally:
            shutdown.cancel_timer()
            for sig in installed:
                loop.remove_signal_handler(sig)
    if shutdown.forced:
        raise ShutdownForced(
            "The worker stopped before its in-flight tasks finished; they will be "
            "redelivered"
        )


async def _run(worker: ServedWorker, until_finished: bool, shutdown: _Shutdown) -> None:
    try:
        if until_finished:
            await worker.run_until_finished()
        else:
            await worker.run_forever()
    except asyncio.CancelledError:
        if not shutdown.forced:
            raise
