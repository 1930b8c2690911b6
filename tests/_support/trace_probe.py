"""Run a few tasks under an in-memory span exporter and print the spans as JSON.

Run as ``python -m tests._support.trace_probe``: setting the global tracer provider
is for ever, so it happens in this separate process, never in the test process.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from docket import Docket, Worker
from tests._support import cli_tasks
from tests._support.timings import FAST


def _describe(span: ReadableSpan) -> dict[str, Any]:
    context = span.get_span_context()
    return {
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": context.trace_id if context else None,
        "span_id": context.span_id if context else None,
        "parent": span.parent.span_id if span.parent else None,
        "attributes": dict(span.attributes or {}),
        "status": span.status.status_code.name,
        "description": span.status.description,
        "events": [event.name for event in span.events],
        "links": [
            {"trace_id": link.context.trace_id, "span_id": link.context.span_id}
            for link in span.links
        ],
    }


def _nested_task() -> Any:
    """A task defined inside a function: its qualified name has ``<locals>``."""

    async def nested_task() -> str:
        return "nested"

    return nested_task


async def main() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    tracer = trace.get_tracer("probe")
    async with Docket(name="traced", url="memory://trace-probe") as docket:
        docket.register_collection("tests._support.cli_tasks:tasks")
        with tracer.start_as_current_span("request"):
            await docket.add(cli_tasks.greet, key="greet-1")("traced")
            await docket.add(cli_tasks.broken, key="broken-1")()
            await docket.add(cli_tasks.flaky, key="flaky-1")()
            soon = datetime.now(timezone.utc) + timedelta(milliseconds=50)
            await docket.add(cli_tasks.greet, when=soon, key="greet-later")("later")
            await docket.add(_nested_task(), key="nested-1")()
        async with Worker(
            docket,
            name="trace-worker",
            **FAST,
        ) as worker:
            await worker.run_until_finished()
    provider.shutdown()
    print(json.dumps([_describe(span) for span in exporter.get_finished_spans()]))


if __name__ == "__main__":
    asyncio.run(main())
