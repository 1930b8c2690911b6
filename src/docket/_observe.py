"""Spans and their attributes, created only when a tracer provider is installed."""

from __future__ import annotations

from collections.abc import Generator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any

from opentelemetry import trace
from opentelemetry import trace as trace_api


def tracing_enabled() -> bool:
    """Whether a tracer provider was installed (no spans are built otherwise)."""
    return trace_api._TRACER_PROVIDER is not None  # pyright: ignore[reportPrivateUsage]


@contextmanager
def _span(
    tracer_name: str,
    name: str,
    attributes: Mapping[str, Any],
    kind: trace.SpanKind,
    links: list[trace.Link] | None,
) -> Generator[trace.Span, None, None]:
    tracer = trace.get_tracer(tracer_name)
    with tracer.start_as_current_span(
        name, kind=kind, attributes=dict(attributes), links=links
    ) as span:
        yield span


def span(
    tracer_name: str,
    name: str,
    attributes: Mapping[str, Any],
    kind: trace.SpanKind = trace.SpanKind.INTERNAL,
    links: list[trace.Link] | None = None,
) -> Any:
    """A span context manager, or a cheap null context when tracing is off."""
    if not tracing_enabled():
        return nullcontext(None)
    return _span(tracer_name, name, attributes, kind, links)
