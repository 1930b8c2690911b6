"""OpenTelemetry spans: one CONSUMER span per task run with the documented
attributes, linked to the span that scheduled it.

The global tracer provider cannot be unset, so the spans are collected by an
in-memory exporter in a subprocess (``tests._support.trace_probe``) and read as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests._support import ROOT

pytestmark = pytest.mark.slow

TASK_ATTRIBUTES = {
    "docket.name",
    "docket.worker",
    "docket.task",
    "docket.key",
    "docket.when",
    "docket.attempt",
    "code.function.name",
}


@pytest.fixture(scope="module")
def spans() -> list[dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-m", "tests._support.trace_probe"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


def runs(spans: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [
        s
        for s in spans
        if s["kind"] == "CONSUMER" and s["attributes"]["docket.key"] == key
    ]


def adding(spans: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return next(
        s
        for s in spans
        if s["name"] == "docket.add" and s["attributes"]["docket.key"] == key
    )


def test_scheduling_spans_carry_the_task_and_its_disposition(
    spans: list[dict[str, Any]],
):
    """``docket.add`` is a child of the caller's span, with task, key, when, attempt."""
    request = next(s for s in spans if s["name"] == "request")
    added = adding(spans, "greet-1")
    assert added["parent"] == request["span_id"]
    assert added["attributes"] == {
        "docket.name": "traced",
        "docket.task": "greet",
        "docket.key": "greet-1",
        "docket.when": added["attributes"]["docket.when"],
        "docket.attempt": 1,
        "code.function.name": "greet",
        "docket.disposition": "scheduled",
    }


def test_each_run_has_a_consumer_span_linked_to_its_producer(
    spans: list[dict[str, Any]],
):
    """The task span is named after the task, starts a new trace and links back."""
    (run,) = runs(spans, "greet-1")
    added = adding(spans, "greet-1")
    assert run["name"] == "greet"
    assert set(run["attributes"]) == TASK_ATTRIBUTES
    assert run["attributes"]["docket.worker"] == "trace-worker"
    assert run["attributes"]["docket.attempt"] == 1
    assert run["attributes"]["docket.when"] == added["attributes"]["docket.when"]
    assert run["status"] == "OK"
    assert run["parent"] is None
    assert run["trace_id"] != added["trace_id"]
    assert run["links"] == [
        {"trace_id": added["trace_id"], "span_id": added["span_id"]}
    ]


def test_spans_name_the_function_by_its_name_not_its_qualified_name(
    spans: list[dict[str, Any]],
):
    """A task defined inside a function: its span and ``code.function.name`` (on the
    run and on ``docket.add``) are its ``__name__``, without ``<locals>``."""
    (run,) = runs(spans, "nested-1")
    assert run["name"] == "nested_task"
    assert run["attributes"]["code.function.name"] == "nested_task"
    assert (
        adding(spans, "nested-1")["attributes"]["code.function.name"] == "nested_task"
    )


def test_future_tasks_keep_their_link(spans: list[dict[str, Any]]):
    """A task scheduled for later still links to its producer (the reference drops it)."""
    (run,) = runs(spans, "greet-later")
    added = adding(spans, "greet-later")
    assert run["links"] == [
        {"trace_id": added["trace_id"], "span_id": added["span_id"]}
    ]


def test_failures_are_errors_with_the_exception_recorded(
    spans: list[dict[str, Any]],
):
    """A failing run is ERROR with its message and an exception event."""
    (run,) = runs(spans, "broken-1")
    assert run["status"] == "ERROR"
    assert run["description"] == "broken on purpose"
    assert "exception" in run["events"]


def test_every_retry_attempt_has_its_own_span(spans: list[dict[str, Any]]):
    """Attempt 1 fails (ERROR), attempt 2 succeeds (OK), each in its own span."""
    first, second = sorted(
        runs(spans, "flaky-1"), key=lambda s: s["attributes"]["docket.attempt"]
    )
    assert (first["attributes"]["docket.attempt"], first["status"]) == (1, "ERROR")
    assert (second["attributes"]["docket.attempt"], second["status"]) == (2, "OK")
    assert second["links"], "the retry links to the attempt that scheduled it"
