"""Public names and small behaviours that code written for pydocket relies on."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import pytest
from uncalled_for import get_signature

from docket import Docket, Logged, Retry, Timeout
from docket.annotations import compact_signature
from docket.dependencies import (
    CompletionHandler,
    FailureHandler,
    Runtime,
    TaskOutcome,
    validate_dependencies,
)
from docket.execution import Execution

# ---- cluster key names ---------------------------------------------------------


@pytest.mark.parametrize("scheme", ["redis+cluster", "rediss+cluster"])
def test_cluster_urls_hash_tag_every_public_name(scheme: str) -> None:
    """On a cluster URL the prefix is ``{name}`` before and after connecting, and
    every name built from it carries the hash tag."""
    docket = Docket(name="orders", url=f"{scheme}://127.0.0.1:7000")
    assert docket.prefix == "{orders}"
    assert docket.key("queue") == "{orders}:queue"
    assert docket.queue_key == "{orders}:queue"
    assert docket.stream_key == "{orders}:stream"
    assert docket.runs_key("k") == "{orders}:runs:k"


def test_other_urls_use_the_plain_name() -> None:
    """Standalone, Sentinel and memory URLs keep the docket name as the prefix."""
    for url in ("redis://h:1/0", "redis+sentinel://h:1/m", "memory://x"):
        docket = Docket(name="orders", url=url)
        assert docket.prefix == "orders"
        assert docket.key("queue") == "orders:queue"


# ---- compact signatures -----------------------------------------------------------


def test_logged_parameters_show_their_underlying_type() -> None:
    """``Annotated[str, Logged]`` shows as ``str`` in a task's compact signature,
    whether the annotations are evaluated or strings (``from __future__``)."""

    async def evaluated(
        a: Annotated[str, Logged],
        b: Annotated[dict[str, int], Logged(length_only=True)] = {},  # noqa: B006
    ) -> None: ...

    evaluated.__annotations__ = {
        "a": Annotated[str, Logged],
        "b": Annotated[dict[str, int], Logged(length_only=True)],
    }
    assert compact_signature(get_signature(evaluated)) == "a: str, b: dict = {}"

    async def task(
        a: Annotated[str, Logged],
        b: Annotated[str, Logged(length_only=True)] = "foo",
        c: int = 3,
    ) -> None: ...

    assert (
        compact_signature(get_signature(task)) == "a: str, b: str = 'foo', c: int = 3"
    )


# ---- generic handler roles --------------------------------------------------------


class Outcome:
    pass


class LogFailures(FailureHandler[Outcome]):
    async def __aenter__(self) -> LogFailures:
        return self

    async def handle_failure(self, execution: Execution, outcome: TaskOutcome) -> bool:
        return False


class InlineRuntime(Runtime[Outcome]):
    async def __aenter__(self) -> InlineRuntime:
        return self

    async def run(
        self, execution: Execution, function: Any, args: Any, kwargs: Any
    ) -> Any:
        return await function(*args, **kwargs)


class Announce(CompletionHandler[Outcome]):
    async def __aenter__(self) -> Announce:
        return self

    async def on_complete(self, execution: Execution, outcome: TaskOutcome) -> bool:
        return False


def test_handler_roles_can_be_subscripted() -> None:
    """Runtime, FailureHandler and CompletionHandler take a type argument."""
    for role in (Runtime, FailureHandler, CompletionHandler):
        assert role[Outcome].__origin__ is role  # type: ignore[index]
    assert LogFailures.single and InlineRuntime.single and Announce.single


def test_one_handler_of_each_role_per_task() -> None:
    """Two subclasses of one role on a task conflict, generic or not."""

    async def two_failure_handlers(
        a: LogFailures = LogFailures(), b: Retry = Retry(attempts=2)
    ) -> None: ...

    async def two_runtimes(
        a: InlineRuntime = InlineRuntime(), b: Timeout = Timeout(timedelta(seconds=1))
    ) -> None: ...

    async def one_of_each(
        a: LogFailures = LogFailures(),
        b: InlineRuntime = InlineRuntime(),
        c: Announce = Announce(),
    ) -> None: ...

    with pytest.raises(ValueError, match="Only one FailureHandler dependency"):
        validate_dependencies(two_failure_handlers)
    with pytest.raises(ValueError, match="Only one Runtime dependency"):
        validate_dependencies(two_runtimes)
    validate_dependencies(one_of_each)
