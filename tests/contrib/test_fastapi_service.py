"""examples/fastapi_service.py as it is run: a real uvicorn server process and
a real ``docket worker`` process on a real redis-server. The service answers,
enqueues through get_docket, and serves the dashboard under /admin/docket
(pages, assets, live data, CSRF and token), and stops promptly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests._support import ROOT
from tests._support.cli import wait_until
from tests._support.servers import RedisServer, free_port

pytestmark = pytest.mark.slow

TOKEN = "fastapi-dashboard-token"


def environment(url: str, name: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKET_")}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")]),
            "DOCKET_URL": url,
            "DOCKET_NAME": name,
            **extra,
        }
    )
    return env


@contextmanager
def process(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as output:
        child = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            yield child
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()


@contextmanager
def service(
    url: str, name: str, tmp_path: Path, **extra: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``uvicorn examples.fastapi_service:app`` on a free port, answering."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "examples.fastapi_service:app"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    log = tmp_path / "uvicorn.log"
    with process(command, environment(url, name, **extra), log) as server:
        base = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            assert server.poll() is None, log.read_text()
            try:
                return httpx.get(f"{base}/openapi.json", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(answers, timeout=60)
        yield server, base


@contextmanager
def worker(url: str, name: str, tmp_path: Path, worker_name: str) -> Iterator[None]:
    """``docket worker --tasks examples.fastapi_service:tasks``."""
    command = [sys.executable, "-m", "docket", "worker", "--tasks"]
    command += ["examples.fastapi_service:tasks", "--name", worker_name]
    with process(command, environment(url, name), tmp_path / "worker.log") as child:
        yield
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=30)


def stops_promptly(
    server: subprocess.Popen[bytes], log: Path, seconds: float = 10
) -> float:
    """SIGTERM: uvicorn shuts the app down (its lifespan's end ran) within
    ``seconds``. Uvicorn re-raises the signal once it is done, so the exit
    status is the signal's."""
    started = time.monotonic()
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) in (0, -signal.SIGTERM)
    elapsed = time.monotonic() - started
    assert "Application shutdown complete" in log.read_text(), log.read_text()
    assert elapsed < seconds, f"{elapsed:.1f} s"
    return elapsed


def test_the_example_service_enqueues_and_serves_the_dashboard(
    redis_server: RedisServer, docket_name: str, tmp_path: Path
) -> None:
    """A sign-up is enqueued through get_docket and run by the worker process;
    the dashboard's pages, assets and live data answer under /admin/docket, an
    action needs the CSRF token and, with DOCKET_DASHBOARD_TOKEN, a sign-in."""
    url = redis_server.url
    with service(url, docket_name, tmp_path, DOCKET_DASHBOARD_TOKEN=TOKEN) as (
        server,
        base,
    ):
        with httpx.Client(base_url=base, timeout=10) as client:
            accepted = client.post("/signups", params={"email": "ann@example.com"})
            assert accepted.status_code == 202
            key = accepted.json()["key"]
            assert key == "welcome:ann@example.com"
            assert client.get(f"/signups/{key}").json()["state"] == "queued"

            anonymous = client.get("/admin/docket/tasks")
            assert anonymous.status_code == 303
            assert anonymous.headers["location"] == "/admin/docket/login"
            assert client.get("/admin/docket/api/counts").status_code == 401
            assert client.get("/admin/docket/login").status_code == 200
            csrf = client.cookies["docket_csrf"]
            refused = client.post(
                "/admin/docket/strikes/add", data={"function": "x", "csrf": csrf}
            )
            assert refused.status_code == 401
            signed = client.post(
                "/admin/docket/login", data={"token": TOKEN, "csrf": csrf}
            )
            assert signed.status_code == 303

            page = client.get("/admin/docket/tasks")
            assert page.status_code == 200
            assert 'href="/admin/docket/workers"' in page.text
            assert docket_name in page.text
            for asset in ("docket.css", "docket.js"):
                assert client.get(f"/admin/docket/static/{asset}").status_code == 200
            assert client.get("/admin/docket/api/counts").json()["queued"] == 1

            with worker(url, docket_name, tmp_path, "signup-worker"):
                done = wait_until(
                    lambda: (
                        answer
                        if (answer := client.get(f"/signups/{key}").json())["state"]
                        == "completed"
                        else None
                    ),
                    timeout=30,
                )
            assert done["result"] == f"welcomed ann@example.com ({key})"

            no_csrf = client.post("/admin/docket/strikes/add", data={"function": "x"})
            assert no_csrf.status_code == 403
            struck = client.post(
                "/admin/docket/strikes/add", data={"function": "x", "csrf": csrf}
            )
            assert struck.status_code == 303
            assert client.get("/admin/docket/api/counts").status_code == 200
        stops_promptly(server, tmp_path / "uvicorn.log")
