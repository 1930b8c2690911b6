"""Fakes and sample dependencies shared by the dependency-resolution tests."""

from __future__ import annotations

from datetime import datetime, timezone
from types import TracebackType
from typing import Any

from docket.dependencies import Dependency, FailureHandler, Runtime
from docket.execution import Execution


class FakeDocket:
    name = "test-docket"

    def __init__(self) -> None:
        self.tasks: dict[str, Any] = {}

    def labels(self) -> dict[str, str]:
        return {"docket.name": self.name}


class FakeWorker:
    name = "worker-1"

    def __init__(self, dependencies: dict[str, Any] | None = None) -> None:
        self.docket = FakeDocket()
        self.dependencies: dict[str, Any] = dependencies or {}

    def labels(self) -> dict[str, str]:
        return {"docket.name": self.docket.name, "docket.worker": self.name}


def make_execution(
    worker: FakeWorker, function: Any, *args: Any, **kwargs: Any
) -> Execution:
    return Execution(
        worker.docket,  # type: ignore[arg-type]
        function,
        args,
        kwargs,
        key="key-1",
        when=datetime.now(timezone.utc),
        attempt=1,
    )


class Recorder(Dependency[str]):
    """Records when it is entered and exited, into a shared journal."""

    def __init__(self, name: str, journal: list[str]) -> None:
        self.name = name
        self.journal = journal

    async def __aenter__(self) -> str:
        self.journal.append(f"enter {self.name}")
        return self.name

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.journal.append(f"exit {self.name}")


class Exploding(Dependency[None]):
    """Fails on entry."""

    async def __aenter__(self) -> None:
        raise RuntimeError("kaboom")


class Wrapper(Dependency["Wrapper"]):
    """An Annotated side-effect dependency that captures what it is bound to."""

    def __init__(self) -> None:
        self.bound: tuple[str, Any] | None = None

    def bind_to_parameter(self, name: str, value: Any) -> Wrapper:
        wrapper = Wrapper()
        wrapper.bound = (name, value)
        return wrapper

    async def __aenter__(self) -> Wrapper:
        return self


class CustomRuntime(Runtime):
    async def __aenter__(self) -> CustomRuntime:
        return self

    async def run(self, *args: Any) -> Any:
        raise NotImplementedError


class CustomFailureHandler(FailureHandler):
    async def __aenter__(self) -> CustomFailureHandler:
        return self

    async def handle_failure(self, *args: Any) -> bool:
        return False
