"""Running a worker as a service: signals, the health and metrics endpoints."""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal
import time
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from ..instrumentation import healthcheck_server, metrics_server

if TYPE_CHECKING:
    from ..worker import Worker

logger = logging.getLogger("docket.worker")


def import_function(path: str) -> Any:
    """Import ``module:function``, with a clear error when it is not there."""
    module_name, _, attribute = path.rpartition(":")
    if not module_name or not attribute:
        raise ValueError(f"Expected 'module:function', got {path!r}")
    function = getattr(importlib.import_module(module_name), attribute, None)
    if function is None:
        raise ValueError(f"{module_name!r} has no attribute {attribute!r}")
    return function


def _healthy(worker: Worker) -> bool:
    """Alive: the session's loops run and the last heartbeat reached Redis recently."""
    session = worker._session
    if session is None:
        return False
    horizon = worker.docket.heartbeat_interval.total_seconds() * 2 + 1
    return time.monotonic() - worker._last_beat < horizon


async def serve(
    worker: Worker,
    until_finished: bool,
    healthcheck_port: int | None,
    metrics_port: int | None,
) -> None:
    loop = asyncio.get_running_loop()
    signals_seen = 0

    def on_signal(received: signal.Signals) -> None:
        nonlocal signals_seen
        signals_seen += 1
        if signals_seen == 1:
            logger.info("Received %s, initiating graceful shutdown...", received.name)
            worker.stop(graceful=True)
        else:
            logger.warning("Received %s again, stopping at once", received.name)
            worker.stop(graceful=False)

    installed: list[signal.Signals] = []
    with ExitStack() as servers:
        servers.enter_context(
            healthcheck_server(port=healthcheck_port, probe=lambda: _healthy(worker))
        )
        servers.enter_context(metrics_server(port=metrics_port))
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, on_signal, sig)
                installed.append(sig)
            except (NotImplementedError, RuntimeError):  # pragma: no cover (Windows)
                pass
        try:
            async with worker:
                try:
                    if until_finished:
                        await worker.run_until_finished()
                    else:
                        await worker.run_forever()
                except asyncio.CancelledError:
                    if signals_seen < 2:
                        raise
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
