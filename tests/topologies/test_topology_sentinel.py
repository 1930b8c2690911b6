"""Redis Sentinel: URL syntax, master discovery and a live failover."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from redis.asyncio.sentinel import MasterNotFoundError
from redis.exceptions import ConnectionError as RedisConnectionError

from docket import Docket, ExecutionState, Worker
from docket._redis import parse_sentinel_url, redact_url
from docket._redis.sentinel import SentinelConnector
from tests._support.credentials import RotatingPassword
from tests._support.sentinel import (
    DATA_PASSWORD,
    SENTINEL_PASSWORD,
    SERVICE,
    SentinelDeployment,
)
from tests.conftest import eventually
from tests.topologies.test_topology_auth_tls import exercise
from tests.topologies.test_topology_docs import page_examples, run_example


@pytest.fixture(scope="module")
def sentinel_deployment() -> Iterator[SentinelDeployment]:
    """A master, a replica and three Sentinels, for this module only."""
    deployment = SentinelDeployment().start()
    try:
        yield deployment
    finally:
        deployment.close()


def test_sentinel_url_members_ports_and_ipv6():
    target = parse_sentinel_url(
        "redis+sentinel://s1:26380,,s2,[::1]:26381,[fe80::2]/mymaster"
    )
    assert target.sentinels == [
        ("s1", 26380),
        ("s2", 26379),
        ("::1", 26381),
        ("fe80::2", 26379),
    ]
    assert (target.service, target.db, target.tls) == ("mymaster", 0, False)


def test_sentinel_url_credentials_db_and_options():
    target = parse_sentinel_url(
        "rediss+sentinel://app:p%40ss@h1:1,h2:2/svc/3"
        "?sentinel_username=mon&sentinel_password=spw&db=9&username=x&password=y"
        "&socket_timeout=2.5&ssl_ca_certs=/ca.pem&ssl_cert_reqs=required"
    )
    assert (target.username, target.password) == ("app", "p@ss")
    assert (target.sentinel_username, target.sentinel_password) == ("mon", "spw")
    assert target.db == 3 and target.tls
    node = target.node_options()
    assert node["db"] == 3 and node["username"] == "app" and node["password"] == "p@ss"
    assert node["socket_timeout"] == 2.5 and node["ssl"] is True
    assert node["ssl_ca_certs"] == "/ca.pem" and node["socket_keepalive"] is True
    sentinel = target.sentinel_options()
    assert sentinel["username"] == "mon" and sentinel["password"] == "spw"
    assert sentinel["ssl"] is True and sentinel["ssl_ca_certs"] == "/ca.pem"


def test_sentinel_defaults_turn_read_timeout_off_and_keepalive_on():
    node = parse_sentinel_url("redis+sentinel://h/svc").node_options()
    assert node["socket_timeout"] is None and node["socket_keepalive"] is True
    options = node["socket_keepalive_options"]
    if hasattr(socket, "TCP_KEEPIDLE"):
        assert options[socket.TCP_KEEPIDLE] == 30
        assert options[socket.TCP_KEEPINTVL] == 5
        assert options[socket.TCP_KEEPCNT] == 3


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+sentinel:///svc", "at least one host"),
        ("redis+sentinel://,,/svc", "at least one host"),
        ("redis+sentinel://:26379/svc", "no host"),
        ("redis+sentinel://h:port/svc", "Bad Sentinel port"),
        ("redis+sentinel://h:70000/svc", "Bad Sentinel port"),
        ("redis+sentinel://h", "service name"),
        ("redis+sentinel://h/", "service name"),
        ("redis+sentinel://h/svc/zero", "must be an integer"),
        ("redis+sentinel://::1/svc", "bracketed"),
        ("redis+sentinel://[::1/svc", "IPv6"),
    ],
)
def test_malformed_sentinel_urls_raise_value_error(url: str, message: str):
    with pytest.raises(ValueError, match=message):
        parse_sentinel_url(url)
    with pytest.raises(ValueError):
        Docket(url=url)


def test_errors_and_redaction_never_show_passwords():
    url = "redis+sentinel://u:hunter2@h:bad/svc?sentinel_password=swordfish"
    with pytest.raises(ValueError) as raised:
        parse_sentinel_url(url)
    assert "hunter2" not in str(raised.value)
    assert "swordfish" not in str(raised.value)
    shown = redact_url(url)
    assert "hunter2" not in shown and "swordfish" not in shown
    assert shown.startswith("redis+sentinel://u:***@h:bad/svc")


async def add_with_retry(docket: Docket, function: object, key: str, *args: object):
    """A producer that retries while the failover settles."""
    for _ in range(50):
        try:
            return await docket.add(function, key=key)(*args)  # type: ignore[arg-type]
        except (RedisConnectionError, OSError):
            await asyncio.sleep(0.2)
    raise AssertionError(f"could not add {key}")


async def test_docket_discovers_the_master(sentinel_deployment: SentinelDeployment):
    async def double(n: int) -> int:
        return n * 2

    async with Docket(name="sentinel-basic", url=sentinel_deployment.url()) as docket:
        execution = await docket.add(double)(21)
        async with Worker(
            docket, minimum_check_interval=timedelta(milliseconds=5)
        ) as worker:
            await worker.run_until_finished()
        assert await execution.get_result(timeout=timedelta(seconds=5)) == 42
        async with docket.redis() as client:  # results in the RedisStore format
            assert await client.exists(f"sentinel-basic:results::{execution.key}:1")
        assert docket._backend is not None and docket._backend.is_sentinel
        assert docket.prefix == "sentinel-basic"


async def test_data_nodes_log_in_through_the_credential_provider(
    sentinel_deployment: SentinelDeployment,
):
    """With ``credential_provider``, the data-node connections (the master's,
    pub/sub, the result store's) ask it; the Sentinels keep the URL's
    ``sentinel_password``. After a rotation on both data nodes, new connections
    log in with the new password."""
    nodes = (sentinel_deployment.master, sentinel_deployment.replica)

    def grant(password: str) -> None:
        for node in nodes:  # ACL users are per server, replicas included
            node.cli(
                "ACL", "SETUSER", "sentinel-app", "reset", "on", f">{password}",
                "~guarded:*", "&guarded:*", "+@all",
            )  # fmt: skip

    grant("one")
    provider = RotatingPassword("sentinel-app", "one")
    url = sentinel_deployment.url().replace(f":{DATA_PASSWORD}@", "")
    async with Docket(name="guarded", url=url, credential_provider=provider) as docket:
        await exercise(docket)
    asked = provider.asked
    grant("two")
    provider.password = "two"
    async with Docket(name="guarded", url=url, credential_provider=provider) as docket:
        await exercise(docket)
    assert asked >= 2 and provider.asked > asked


async def test_wrong_sentinel_password_is_refused(
    sentinel_deployment: SentinelDeployment,
):
    url = sentinel_deployment.url().replace(SENTINEL_PASSWORD, "wrong-password")
    connector = SentinelConnector(url)
    try:
        with pytest.raises(MasterNotFoundError) as raised:
            await connector.sentinel.discover_master(SERVICE)
    finally:
        await connector.aclose()
    assert "wrong-password" not in str(raised.value)
    assert DATA_PASSWORD not in str(raised.value)


@pytest.mark.slow
async def test_worker_carries_on_through_a_failover(
    sentinel_deployment: SentinelDeployment,
):
    """SENTINEL FAILOVER mid-run: the worker follows the new master, no task is lost."""
    done: set[int] = set()

    async def job(n: int) -> None:
        await asyncio.sleep(0.2)
        done.add(n)

    async with Docket(name="failover", url=sentinel_deployment.url()) as docket:
        docket.register(job)
        before = [await add_with_retry(docket, job, f"a{n}", n) for n in range(30)]
        async with docket.redis() as client:  # every task reached the replica
            await client.execute_command("WAIT", 1, 5000)
        async with Worker(
            docket,
            concurrency=4,
            redelivery_timeout=timedelta(seconds=2),
            reconnection_delay=timedelta(milliseconds=200),
            minimum_check_interval=timedelta(milliseconds=20),
            scheduling_resolution=timedelta(milliseconds=20),
        ) as worker:
            run = asyncio.ensure_future(worker.run_forever())
            await eventually(lambda: len(done) >= 4, timeout=10)
            old = sentinel_deployment.master_port()
            new = await asyncio.to_thread(sentinel_deployment.failover)
            assert new != old
            after = [
                await add_with_retry(docket, job, f"b{n}", n) for n in range(30, 40)
            ]
            await eventually(lambda: done == set(range(40)), timeout=30)

            async def all_completed() -> bool:
                for execution in before + after:
                    await execution.sync()
                    if execution.state is not ExecutionState.COMPLETED:
                        return False
                return True

            # a settlement the old master took but never replicated is redone
            # once its lease lapses (at-least-once), so wait for every record
            await eventually(all_completed, timeout=20)
            worker.stop()
            await asyncio.wait_for(run, 15)
    assert sentinel_deployment.master_port() == new
    demoted = sentinel_deployment.master
    if old == sentinel_deployment.replica.port:
        demoted = sentinel_deployment.replica
    assert "role:slave" in demoted.cli("INFO", "replication")


def test_the_documented_sentinel_example_runs(
    sentinel_deployment: SentinelDeployment, tmp_path: Path
):
    (code,) = [code for _, code, _ in page_examples() if "sentinel-1" in code]
    replacements = {
        f"sentinel-{n + 1}:26379": f"127.0.0.1:{sentinel.port}"
        for n, sentinel in enumerate(sentinel_deployment.sentinels)
    }
    replacements.update(
        {
            "data-password": DATA_PASSWORD,
            "sentinel-password": SENTINEL_PASSWORD,
            "/mymaster/": f"/{SERVICE}/",
        }
    )
    run_example(code, replacements, tmp_path)
