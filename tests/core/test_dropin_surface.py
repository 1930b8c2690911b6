"""Public names and small behaviours that code written for pydocket relies on."""

from __future__ import annotations

import inspect
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


# ---- names and signatures of pydocket 0.27 ----------------------------------------


def _parameters(function: Any) -> list[str]:
    """``name`` or ``name=default`` per parameter, ``*`` before keyword-only ones."""
    described: list[str] = []
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY and "*" not in described:
            described.append("*")
        text = parameter.name
        if parameter.default is not inspect.Parameter.empty:
            text += f"={parameter.default!r}"
        described.append(text)
    return described


def test_the_names_pydocket_027_added_are_exported() -> None:
    """TaskCall, CallArgument and CycleError come from ``docket``; the last two are
    uncalled-for's own objects, also in ``docket.dependencies``."""
    import uncalled_for

    import docket
    import docket.dependencies
    import docket.docket
    import docket.execution

    for name in ("TaskCall", "CallArgument", "CycleError"):
        assert name in docket.__all__
    assert docket.CallArgument is uncalled_for.CallArgument
    assert docket.CycleError is uncalled_for.CycleError
    assert docket.dependencies.CallArgument is uncalled_for.CallArgument
    assert docket.dependencies.CycleError is uncalled_for.CycleError
    assert docket.TaskCall is docket.execution.TaskCall is docket.docket.TaskCall
    assert [d.value for d in docket.Disposition] == [
        "loaded",
        "scheduled",
        "already_scheduled",
        "struck",
        "superseded",
        "failed",
    ]


def test_signatures_match_pydocket_027() -> None:
    """The parameters (names, kinds, defaults) of the 0.27 additions."""
    from docket import CallArgument, TaskCall, Worker

    # ours adds keyword-only workflow parameters (after=, on_parent_failure=) and
    # priority= after
    call = _parameters(Docket.call)
    assert call[:4] == ["self", "function", "when=None", "key=None"]
    assert call[4:] == [
        "*",
        "after=None",
        "on_parent_failure='cancel'",
        "priority=None",
    ]
    for method in (Docket.add_many, Docket.replace_many):
        assert _parameters(method) == ["self", "calls", "*", "chunk_size=1000"]
    assert _parameters(TaskCall) == [
        "function",
        "args",
        "kwargs",
        "key",
        "when",
        "function_name=None",
        "after=()",  # ours: workflows
        "on_parent_failure='cancel'",
        "priority=None",  # ours: priorities
    ]
    assert _parameters(CallArgument)[:2] == ["parameter=None", "optional=False"]
    assert _parameters(Worker.validate_task_dependencies) == [
        "self",
        "function",
        "arguments",
        "annotations",
    ]
    worker = _parameters(Worker)  # ours adds keyword parameters after these
    start = worker.index("dependencies=None")
    assert worker[start : start + 2] == ["dependencies=None", "message_batch=1000"]
    run = _parameters(Worker.run)
    assert run[run.index("fallback_task=None") + 1 :][:2] == [
        "message_batch=1000",
        "dependencies=None",
    ]
    for helper in ("runs_key", "parked_task_key", "cancel_channel"):
        assert _parameters(getattr(Docket, helper)) == ["self", "task_key"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://h:1/0", "orders:leases:redelivery-sweep"),
        ("redis+cluster://h:1", "{orders}:leases:redelivery-sweep"),
    ],
)
def test_redelivery_sweep_key(url: str, expected: str) -> None:
    """The fleet-wide redelivery lease sits under ``leases:``, where no parked task
    lands (a task keyed ``leases:...`` parks under ``parked:``)."""
    docket = Docket(name="orders", url=url)
    assert docket.redelivery_sweep_key == expected
    assert docket.parked_task_key("leases:redelivery-sweep") != expected
