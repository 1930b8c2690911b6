"""Stand-in for the ``docker`` SDK, for the reference-suite measurement only.

The reference's test-suite starts Redis in a container through the docker SDK.
This machine has no Docker daemon, so this package answers the few calls its
fixtures make by starting a real ``redis-server`` process on the requested
127.0.0.1 port instead. Only ``scripts/reference-suite.sh`` puts it on the path.
"""

from __future__ import annotations

from typing import Any

from . import errors
from .models.containers import Container, start_redis

__all__ = ["Container", "DockerClient", "errors"]


class _Containers:
    def run(self, image: str, **options: Any) -> Container:
        if "cluster" in image or image.startswith("valkey/"):
            raise errors.APIError(f"{image}: only plain redis-server is available here")
        ports: dict[str, int] = options.get("ports") or {}
        port = ports.get("6379/tcp")
        if port is None:
            raise errors.APIError(f"no 6379/tcp port binding in {ports!r}")
        return start_redis(int(port))

    def list(self, **_options: Any) -> list[Container]:
        return []


class _Images:
    def get(self, name: str) -> Any:
        raise errors.ImageNotFound(name)


class DockerClient:
    def __init__(self) -> None:
        self.containers = _Containers()
        self.images = _Images()

    @classmethod
    def from_env(cls) -> DockerClient:
        return cls()
