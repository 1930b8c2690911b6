"""Safer edges: no password in any repr, and a floor under redelivery_timeout."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from docket import Docket, StrikeList, Worker
from docket._redis import open_backend
from tests._support.servers import RedisServer

URLS = [
    "redis://user:s3cret-pw@127.0.0.1:6379/0",
    "rediss://:s3cret-pw@127.0.0.1:6380/1",
    "redis+sentinel://:s3cret-pw@127.0.0.1:26379/0?service_name=m"
    "&sentinel_password=s3cret-pw",
    "redis+cluster://user:s3cret-pw@127.0.0.1:7000",
]


@pytest.mark.parametrize("url", URLS)
def test_docket_and_strike_list_reprs_hide_passwords(url: str):
    """repr() names the docket and its URL with the password masked."""
    docket = Docket(name="orders", url=url)
    for text in (repr(docket), repr(StrikeList(url=url, name="orders"))):
        assert "s3cret-pw" not in text
        assert "orders" in text and "***" in text


async def test_backend_repr_hides_the_password():
    """An open backend's repr shows the URL without its password."""
    server = RedisServer(password="s3cret-pw").start()
    try:
        url = f"redis://:s3cret-pw@127.0.0.1:{server.port}/0"
        async with open_backend(url) as backend:
            assert "s3cret-pw" not in repr(backend)
            assert f"127.0.0.1:{server.port}" in repr(backend)
    finally:
        server.close()


def test_a_very_short_redelivery_timeout_is_allowed_with_a_warning(
    caplog: pytest.LogCaptureFixture,
):
    """Below 100 ms a lease may expire between renewals: the worker is built (as
    pydocket allows, its suite uses 40 ms) and one warning says what it risks;
    at 100 ms and above nothing is said. Zero and below are still refused."""
    docket = Docket(name="d", url="memory://floor")
    with caplog.at_level(logging.WARNING, logger="docket.worker"):
        worker = Worker(docket, redelivery_timeout=timedelta(milliseconds=40))
        Worker(docket, redelivery_timeout=timedelta(milliseconds=100))
    assert worker.redelivery_timeout == timedelta(milliseconds=40)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "redelivered to another worker while it still runs" in warnings[0]
    with pytest.raises(ValueError, match="must be positive"):
        Worker(docket, redelivery_timeout=timedelta(0))
