"""Passwords, restricted ACL users (the seed page's exact rules) and TLS
against real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

import pytest
from redis.exceptions import AuthenticationError, NoPermissionError
from redis.exceptions import ConnectionError as RedisConnectionError
from typer.testing import CliRunner

from docket import Docket, ExecutionCancelled, Worker
from docket._redis import open_backend
from docket.cli import app
from tests._support.cluster import RedisClusterNodes
from tests._support.servers import (
    ADMIN_PASSWORD,
    CATEGORIES,
    USER,
    USER_PASSWORD,
    RedisServer,
    TlsFiles,
)
from tests._support.timings import FAST
from tests.conftest import eventually


def needs_tls(server: RedisServer) -> None:
    if server.tls_port is None:
        pytest.skip("this server binary has no TLS support")


def fast_worker(docket: Docket) -> Worker:
    return Worker(docket, **FAST)


async def greet(name: str) -> str:
    return f"hello {name}"


async def exercise(docket: Docket) -> None:
    """Producer and worker paths: now, later, cancel a running task, strike, result."""
    started = asyncio.Event()

    async def long_running() -> None:
        started.set()
        await asyncio.sleep(30)

    docket.register(long_running)
    now = await docket.add(greet)("now")
    later = await docket.add(
        greet, when=datetime.now(timezone.utc) + timedelta(milliseconds=50)
    )("later")
    long = await docket.add(long_running, key="long")()
    await docket.strike(greet, "name", "==", "struck")
    await docket.add(greet)("struck")
    async with fast_worker(docket) as worker:
        run = asyncio.ensure_future(worker.run_until_finished())
        await asyncio.wait_for(started.wait(), 5)
        await docket.cancel("long")
        await asyncio.wait_for(run, 10)
    assert await now.get_result(timeout=timedelta(seconds=5)) == "hello now"
    assert await later.get_result(timeout=timedelta(seconds=5)) == "hello later"
    with pytest.raises(ExecutionCancelled):
        await long.get_result(timeout=timedelta(seconds=5))
    assert (await docket.snapshot()).total_tasks == 0


async def test_password_only_url(secured: RedisServer):
    url = f"redis://:{ADMIN_PASSWORD}@127.0.0.1:{secured.port}/0"
    async with Docket(name="password-only", url=url) as docket:
        await exercise(docket)


async def test_restricted_acl_user_runs_producers_and_workers(secured: RedisServer):
    url = f"redis://{USER}:{USER_PASSWORD}@127.0.0.1:{secured.port}/0"
    async with Docket(name="orders", url=url) as docket:
        await exercise(docket)


async def test_pydocket_style_acl_user_runs_producers_and_workers(
    secured: RedisServer,
):
    """pydocket's own test setup grants keys ``~P:*`` and only the channel patterns
    ``P:cancel:*``, ``P:state:*`` and ``P:progress:*``: every channel we use falls
    under them (the scheduler's wake-ups included), so workers start and run."""
    user = "pydocket-style"
    rules = ["on", ">pw", "~billing:*", "&billing:cancel:*", "&billing:state:*"]
    secured.cli("ACL", "SETUSER", user, *rules, "&billing:progress:*", "+@all")
    url = f"redis://{user}:pw@127.0.0.1:{secured.port}/0"
    async with Docket(name="billing", url=url) as docket:
        await asyncio.wait_for(exercise(docket), 30)
        async with Worker(
            docket,
            minimum_check_interval=timedelta(milliseconds=5),
            scheduling_resolution=timedelta(seconds=60),  # only a wake-up is prompt
        ) as worker:
            run = asyncio.ensure_future(worker.run_forever())
            try:
                await eventually(docket.workers)  # running; its scheduler idles
                later = await docket.add(
                    greet, when=datetime.now(timezone.utc) + timedelta(seconds=0.3)
                )("woken")
                result = await later.get_result(timeout=timedelta(seconds=10))
            finally:
                worker.stop()
                await asyncio.wait_for(run, 10)
        assert result == "hello woken"


async def test_a_user_refused_the_worker_channels_fails_fast(secured: RedisServer):
    """A user without any channel rule for the docket: starting a worker raises at
    once, naming the rule to add, instead of hanging."""
    user = "no-channels"
    secured.cli(
        "ACL", "SETUSER", user, "on", ">pw", "~mute:*", "resetchannels", "+@all"
    )
    url = f"redis://{user}:pw@127.0.0.1:{secured.port}/0"
    async with Docket(name="mute", url=url) as docket:
        async with fast_worker(docket) as worker:
            with pytest.raises(RuntimeError, match=r"&mute:cancel:\*"):
                await asyncio.wait_for(worker.run_until_finished(), 10)


async def test_restricted_acl_user_cannot_touch_another_docket(secured: RedisServer):
    url = f"redis://{USER}:{USER_PASSWORD}@127.0.0.1:{secured.port}/0"
    with pytest.raises(NoPermissionError):
        async with Docket(name="payments", url=url) as docket:
            await docket.add(greet)("x")


@pytest.mark.parametrize(
    "commands",
    [["+@all"], [*CATEGORIES.split(), "+cluster|slots"]],
    ids=["all-commands", "categories"],
)
async def test_restricted_acl_user_on_the_cluster(
    redis_cluster: RedisClusterNodes, commands: list[str]
):
    """The seed page's cluster form ``~{orders}:* &{orders}:*`` on every node; the
    category list needs CLUSTER SLOTS on top, for the cluster client."""
    user, password = f"cluster-user-{len(commands)}", "cluster-pw"
    redis_cluster.cli_all(
        "ACL", "SETUSER", user, "on", f">{password}", "~{orders}:*", "&{orders}:*",
        *commands,
    )  # fmt: skip
    port = redis_cluster.nodes[0].port
    url = f"redis+cluster://{user}:{password}@127.0.0.1:{port}/0"
    async with Docket(name="orders", url=url) as docket:
        await exercise(docket)


async def test_cluster_user_without_cluster_slots_gets_a_clear_error(
    redis_cluster: RedisClusterNodes,
):
    user, password = "cluster-user-no-slots", "cluster-pw"
    redis_cluster.cli_all(
        "ACL", "SETUSER", user, "on", f">{password}", "~{orders}:*", "&{orders}:*",
        *CATEGORIES.split(),
    )  # fmt: skip
    port = redis_cluster.nodes[0].port
    url = f"redis+cluster://{user}:{password}@127.0.0.1:{port}/0"
    with pytest.raises(NoPermissionError, match=r"\+cluster\|slots") as raised:
        async with Docket(name="orders", url=url):
            pass  # pragma: no cover
    assert password not in str(raised.value)


async def test_tls_with_the_ca_in_the_url(secured: RedisServer, tls_files: TlsFiles):
    needs_tls(secured)
    url = (
        f"rediss://{USER}:{USER_PASSWORD}@127.0.0.1:{secured.tls_port}/0"
        f"?ssl_ca_certs={tls_files.ca_cert}&ssl_cert_reqs=required"
    )
    async with Docket(name="orders", url=url) as docket:
        execution = await docket.add(greet)("tls")
        async with fast_worker(docket) as worker:
            await worker.run_until_finished()
        assert await execution.get_result() == "hello tls"
        async with docket.redis() as client:  # the result went through TLS too
            assert await client.exists(f"orders:results::{execution.key}:1")


async def test_tls_without_the_ca_is_refused(secured: RedisServer):
    needs_tls(secured)
    url = f"rediss://:{ADMIN_PASSWORD}@127.0.0.1:{secured.tls_port}/0"
    with pytest.raises(RedisConnectionError) as raised:
        async with open_backend(url) as backend:
            await backend.client.ping()
    assert "certificate verify failed" in str(raised.value)
    assert ADMIN_PASSWORD not in str(raised.value)


async def test_tls_without_verification(secured: RedisServer):
    needs_tls(secured)
    url = (
        f"rediss://:{ADMIN_PASSWORD}@127.0.0.1:{secured.tls_port}/0?ssl_cert_reqs=none"
    )
    async with open_backend(url) as backend:
        assert await backend.client.ping()


async def test_wrong_password_errors_and_logs_never_show_it(
    secured: RedisServer, caplog: pytest.LogCaptureFixture
):
    url = f"redis://{USER}:not-the-password@127.0.0.1:{secured.port}/0"
    with pytest.raises(AuthenticationError) as raised:
        async with Docket(name="orders", url=url) as docket:
            await docket.add(greet)("x")
    assert "not-the-password" not in str(raised.value)

    caplog.set_level(logging.DEBUG)
    good = f"redis://{USER}:{USER_PASSWORD}@127.0.0.1:{secured.port}/0"
    async with Docket(name="orders", url=good) as docket:
        await docket.add(greet)("logged")
        async with fast_worker(docket) as worker:
            await worker.run_until_finished()
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert USER_PASSWORD not in text


@pytest.mark.usefixtures("restore_logging")
def test_cli_output_never_shows_the_password(secured: RedisServer):
    runner = CliRunner()
    url = f"redis://{USER}:wrong-secret@127.0.0.1:{secured.port}/0"
    result = runner.invoke(app, ["snapshot", "--url", url, "--docket", "orders"])
    assert result.exit_code != 0
    assert "wrong-secret" not in result.output
    good = f"redis://{USER}:{USER_PASSWORD}@127.0.0.1:{secured.port}/0"
    result = runner.invoke(app, ["snapshot", "--url", good, "--docket", "orders"])
    assert result.exit_code == 0, result.output
    assert USER_PASSWORD not in result.output
