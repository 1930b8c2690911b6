"""``credential_provider``: every connection a docket opens (data, pub/sub, the
result store, the strike list) asks the provider, on a standalone server and a
cluster, with a real ACL user whose password is rotated between connections.
(The Sentinel case is in test_topology_sentinel.py, beside its deployment.)"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis
from redis.exceptions import AuthenticationError

from docket import Docket, StrikeList
from tests._support.cluster import RedisClusterNodes
from tests._support.credentials import RotatingPassword
from tests._support.servers import RedisServer
from tests.topologies.test_topology_auth_tls import exercise, greet

USER = "rotating"


def grant(run: object, password: str, docket: str) -> None:
    """(Re)create the ACL user with only ``password``, limited to one docket."""
    rules = ["on", "resetpass", f">{password}", f"~{docket}:*", f"~{{{docket}}}:*"]
    rules += [f"&{docket}:*", f"&{{{docket}}}:*", "+@all"]
    run("ACL", "SETUSER", USER, "reset", *rules)  # type: ignore[operator]


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    """A server whose default user has a password: nothing gets in without the
    provider's credentials."""
    server = RedisServer(password="admin-only", durable=False).start()
    try:
        yield server
    finally:
        server.close()


async def refused(url: str, password: str) -> bool:
    client = aioredis.Redis.from_url(url, username=USER, password=password)
    try:
        await client.ping()
    except AuthenticationError:
        return True
    finally:
        await client.aclose()
    return False


async def test_a_rotated_password_reaches_every_new_connection(server: RedisServer):
    """Producer, worker, pub/sub (cancel, results) and strikes authenticate through
    the provider; after the password is rotated on the server and every connection
    of the user is dropped, the same docket goes on with the new password."""
    grant(server.cli, "first", "rotated")
    provider = RotatingPassword(USER, "first")
    url = f"redis://127.0.0.1:{server.port}/0"
    with pytest.raises(AuthenticationError):  # without it, nothing gets in
        async with Docket(name="rotated", url=url) as docket:
            await docket.add(greet)("x")
    async with Docket(name="rotated", url=url, credential_provider=provider) as docket:
        assert docket.credential_provider is provider
        await exercise(docket)
        asked = provider.asked
        assert asked >= 2  # the data and pub/sub connections at least

        grant(server.cli, "second", "rotated")
        provider.password = "second"
        server.cli("CLIENT", "KILL", "USER", USER)
        assert await refused(url, "first")

        await exercise(docket)
        assert provider.asked > asked


async def test_a_provider_with_a_wrong_password_fails_clearly(server: RedisServer):
    """Wrong credentials from the provider raise redis-py's AuthenticationError at
    the first command, nothing is written."""
    grant(server.cli, "right", "wrong-pw")
    url = f"redis://127.0.0.1:{server.port}/0"
    provider = RotatingPassword(USER, "wrong")
    with pytest.raises(AuthenticationError):
        async with Docket(name="wrong-pw", url=url, credential_provider=provider) as d:
            await d.add(greet)("x")
    assert server.cli("KEYS", "wrong-pw:*").strip() == ""


async def test_a_strike_list_follows_the_strike_log_through_the_provider(
    server: RedisServer,
):
    """StrikeList(url, name, instrumentation, provider): the reference's positional
    place; it reads the strikes a docket wrote."""
    grant(server.cli, "strike-pw", "striking")
    provider = RotatingPassword(USER, "strike-pw")
    url = f"redis://127.0.0.1:{server.port}/0"
    async with Docket(name="striking", url=url, credential_provider=provider) as d:
        await d.strike(greet, "name", "==", "nobody")
        async with StrikeList(url, "striking", False, provider) as strikes:
            assert strikes.credential_provider is provider

            async def seen() -> bool:
                return "greet" in strikes.task_strikes

            deadline = asyncio.get_running_loop().time() + 5
            while not await seen():
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.01)


async def test_cluster_nodes_and_pubsub_use_the_provider(
    redis_cluster: RedisClusterNodes,
):
    """On a cluster every node connection (and the pub/sub node's) asks the
    provider; after a rotation on every node, new connections log in with the new
    password and the old one is refused."""
    grant(redis_cluster.cli_all, "c-first", "clustered")
    provider = RotatingPassword(USER, "c-first")
    url = redis_cluster.url
    async with Docket(name="clustered", url=url, credential_provider=provider) as d:
        await exercise(d)
    asked = provider.asked
    assert asked >= 2

    grant(redis_cluster.cli_all, "c-second", "clustered")
    provider.password = "c-second"
    node = f"redis://127.0.0.1:{redis_cluster.nodes[0].port}/0"
    assert await refused(node, "c-first")
    async with Docket(name="clustered", url=url, credential_provider=provider) as d:
        await exercise(d)
    assert provider.asked > asked
