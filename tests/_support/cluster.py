"""A real three-primary Redis Cluster on 127.0.0.1, for the topology tests and the
``cluster_ok`` tests (its ``redis_cluster`` fixture is in tests/conftest.py).

Each node listens on a plain port and on a TLS port (``tls-cluster yes``), so one
cluster serves both ``redis+cluster://`` and ``rediss+cluster://``: Redis
announces the TLS ports to TLS clients and the plain ports to the others.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field

import pytest

from tests._support.servers import RedisServer, TlsFiles, free_port, redis_cli


@dataclass
class RedisClusterNodes:
    tls: TlsFiles | None
    size: int = 3
    nodes: list[RedisServer] = field(default_factory=list[RedisServer])

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}/0"

    @property
    def tls_url(self) -> str:
        if self.tls is None:
            pytest.skip("this server binary has no TLS support")
        node = self.nodes[0]
        return (
            f"rediss+cluster://127.0.0.1:{node.tls_port}/0"
            f"?ssl_ca_certs={self.tls.ca_cert}&ssl_cert_reqs=required"
        )

    def start(self) -> RedisClusterNodes:
        try:
            for _ in range(self.size):
                node = RedisServer(durable=False)
                node.extra_args = ["--cluster-enabled", "yes"]
                node.extra_args += ["--cluster-node-timeout", "2000"]
                # the bus port defaults to port + 10000, which may be taken or out
                # of range: choose a free one
                node.extra_args += ["--cluster-port", str(free_port())]
                node.extra_args += [
                    "--cluster-config-file",
                    str(node.directory / "nodes.conf"),
                ]
                if self.tls is not None:
                    node.tls, node.tls_port = self.tls, free_port()
                    node.extra_args += ["--tls-cluster", "yes"]
                self.nodes.append(node.start())
            self._create()
        except BaseException:
            self.close()
            raise
        return self

    def _create(self) -> None:
        addresses = [
            f"127.0.0.1:{node.port if self.tls is None else node.tls_port}"
            for node in self.nodes
        ]
        result = subprocess.run(
            [
                *redis_cli(self.tls),
                "--cluster",
                "create",
                *addresses,
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            capture_output=True,
            timeout=60,
        )
        if result.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {result.stdout!r}")
        deadline = time.monotonic() + 30
        while not all(self._node_ready(node) for node in self.nodes):
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis cluster did not become ready")
            time.sleep(0.1)

    @staticmethod
    def _node_ready(node: RedisServer) -> bool:
        info = node.cli("CLUSTER", "INFO")
        slots = node.cli("CLUSTER", "SLOTS")
        return "cluster_state:ok" in info and slots.count("127.0.0.1") >= 3

    def cli_all(self, *command: str) -> None:
        """Run ``command`` on every node (ACLs are per node in a cluster)."""
        for node in self.nodes:
            node.cli(*command)

    def close(self) -> None:
        for node in self.nodes:
            node.close()
        self.nodes = []
