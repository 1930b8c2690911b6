"""Fixtures only the topology tests use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._support.servers import RedisServer, TlsFiles, start_secured_server


@pytest.fixture(scope="module")
def secured(tls_files: TlsFiles) -> Iterator[RedisServer]:
    """A server with a default-user password, a TLS port and the seed's ACL user."""
    server = start_secured_server(tls_files)
    try:
        yield server
    finally:
        server.close()
