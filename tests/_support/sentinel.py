"""A real Sentinel deployment on 127.0.0.1: a master, a replica, three Sentinels.

The data nodes require ``DATA_PASSWORD``; the Sentinels require
``SENTINEL_PASSWORD`` (so URLs must pass ``sentinel_password=``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from tests._support.servers import RedisServer

SERVICE = "docket-primary"
DATA_PASSWORD = "data-s3cret"
SENTINEL_PASSWORD = "sentinel-s3cret"


def start_sentinel(master_port: int) -> RedisServer:
    server = RedisServer(password=SENTINEL_PASSWORD)
    config = server.directory / "sentinel.conf"
    config.write_text(
        "\n".join(
            [
                f"port {server.port}",
                "bind 127.0.0.1",
                f"dir {server.directory}",
                f"sentinel monitor {SERVICE} 127.0.0.1 {master_port} 2",
                f"sentinel auth-pass {SERVICE} {DATA_PASSWORD}",
                f"sentinel down-after-milliseconds {SERVICE} 2000",
                f"sentinel failover-timeout {SERVICE} 10000",
                f"requirepass {SENTINEL_PASSWORD}",
                f"sentinel sentinel-pass {SENTINEL_PASSWORD}",
                "",
            ]
        )
    )
    server.sentinel_config = config
    return server.start()


@dataclass
class SentinelDeployment:
    master: RedisServer = field(
        default_factory=lambda: RedisServer(
            password=DATA_PASSWORD,
            durable=False,
            extra_args=["--masterauth", DATA_PASSWORD],
        )
    )
    replica: RedisServer = field(
        default_factory=lambda: RedisServer(password=DATA_PASSWORD, durable=False)
    )
    sentinels: list[RedisServer] = field(default_factory=list[RedisServer])

    def url(self, db: int = 0, scheme: str = "redis+sentinel") -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return (
            f"{scheme}://:{DATA_PASSWORD}@{hosts}/{SERVICE}/{db}"
            f"?sentinel_password={SENTINEL_PASSWORD}"
        )

    def start(self) -> SentinelDeployment:
        try:
            self.master.start()
            self.replica.extra_args = [
                "--masterauth",
                DATA_PASSWORD,
                "--replicaof",
                "127.0.0.1",
                str(self.master.port),
            ]
            self.replica.start()
            self._wait(lambda: "master_link_status:up" in self.replica.cli("INFO"))
            for _ in range(3):
                self.sentinels.append(start_sentinel(self.master.port))
            self._wait(self._sentinels_ready)
        except BaseException:
            self.close()
            raise
        return self

    def _sentinels_ready(self) -> bool:
        for sentinel in self.sentinels:
            replicas = sentinel.cli("SENTINEL", "REPLICAS", SERVICE)
            others = sentinel.cli("SENTINEL", "SENTINELS", SERVICE)
            if str(self.replica.port) not in replicas or others.count("name") < 2:
                return False
        return True

    @staticmethod
    def _wait(condition: object, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():  # type: ignore[operator]
            if time.monotonic() > deadline:
                raise RuntimeError("the Sentinel deployment did not become ready")
            time.sleep(0.1)

    def master_port(self) -> int:
        reply = self.sentinels[0].cli("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)
        return int(reply.split()[1])

    def failover(self, timeout: float = 30.0) -> int:
        """Force a failover; wait until the Sentinels name the new master, it is
        a master, and the Sentinels have turned the old master into its replica."""
        old = self.master_port()
        reply = self.sentinels[0].cli("SENTINEL", "FAILOVER", SERVICE)
        if "OK" not in reply:
            raise RuntimeError(f"SENTINEL FAILOVER refused: {reply!r}")
        self._wait(lambda: self.master_port() != old, timeout)
        new = self.master_port()
        promoted, demoted = self.replica, self.master
        if new == self.master.port:
            promoted, demoted = self.master, self.replica
        self._wait(lambda: "role:master" in promoted.cli("INFO", "replication"))
        self._wait(
            lambda: "master_link_status:up" in demoted.cli("INFO", "replication"),
            timeout,
        )
        return new

    def close(self) -> None:
        for sentinel in self.sentinels:
            sentinel.close()
        self.replica.close()
        self.master.close()
