"""The health-check and metrics endpoints as building blocks, in-process."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

import pytest

from docket import Docket, Worker
from docket.instrumentation import healthcheck_server, metrics_server
from tests._support.cli import http_get
from tests._support.servers import free_port
from tests.conftest import eventually


def test_health_server_answers_any_path_with_the_probe_result():
    """200 ``OK`` while the probe is true, 503 when false or failing, on any path."""
    state = {"healthy": True}

    def probe() -> bool:
        if state["healthy"] is None:
            raise RuntimeError("probe broke")
        return bool(state["healthy"])

    port = free_port()
    with healthcheck_server(host="127.0.0.1", port=port, probe=probe):
        assert http_get(port) == (200, "OK")
        assert http_get(port, "/healthz/anything") == (200, "OK")
        state["healthy"] = False
        assert http_get(port) == (503, "UNHEALTHY")
        state["healthy"] = None  # type: ignore[assignment]
        assert http_get(port) == (503, "UNHEALTHY")
    assert http_get(port) is None


def test_servers_do_nothing_without_a_port():
    """With ``port=None`` both context managers are no-ops."""
    with healthcheck_server(port=None), metrics_server(port=None):
        pass


def test_metrics_server_explains_a_missing_sdk(monkeypatch: pytest.MonkeyPatch):
    """Without the exporter installed, the error says what to install, under this
    package's name and under pydocket's (what a project pinning pydocket installs)."""
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.prometheus", None)
    with pytest.raises(ImportError, match=r"pip install docket\[metrics\]") as raised:
        with metrics_server(host="127.0.0.1", port=free_port()):
            pass
    assert "pip install pydocket[metrics]" in str(raised.value)


async def test_a_worker_is_healthy_only_while_its_session_beats():
    """Not healthy before running, healthy once a heartbeat landed, not after stopping."""
    async with Docket(
        name="health",
        url="memory://health-probe",
        heartbeat_interval=timedelta(milliseconds=50),
    ) as docket:
        async with Worker(
            docket, minimum_check_interval=timedelta(milliseconds=5)
        ) as w:
            assert not w.is_healthy()
            running = asyncio.ensure_future(w.run_forever())
            await eventually(lambda: w.is_healthy(), timeout=5)
            w.stop()
            await running
            assert not w.is_healthy()
