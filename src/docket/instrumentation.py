"""Metric instruments, HTTP health and metrics endpoints, trace propagation
helpers, and spans.

All instruments come from the OpenTelemetry meter ``docket`` through the API, so
they cost nothing until an SDK meter provider is installed; spans are created only
when a tracer provider is installed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry import trace as trace_api
from opentelemetry.propagators.textmap import Getter, Setter

logger = logging.getLogger("docket.instrumentation")

meter = metrics.get_meter("docket")

TASKS_ADDED = meter.create_counter("docket_tasks_added", unit="1")
TASKS_REPLACED = meter.create_counter("docket_tasks_replaced", unit="1")
TASKS_SCHEDULED = meter.create_counter("docket_tasks_scheduled", unit="1")
TASKS_CANCELLED = meter.create_counter("docket_tasks_cancelled", unit="1")
TASKS_STRICKEN = meter.create_counter("docket_tasks_stricken", unit="1")
TASKS_STARTED = meter.create_counter("docket_tasks_started", unit="1")
TASKS_REDELIVERED = meter.create_counter("docket_tasks_redelivered", unit="1")
TASKS_SUPERSEDED = meter.create_counter("docket_tasks_superseded", unit="1")
TASKS_SUCCEEDED = meter.create_counter("docket_tasks_succeeded", unit="1")
TASKS_FAILED = meter.create_counter("docket_tasks_failed", unit="1")
TASKS_RETRIED = meter.create_counter("docket_tasks_retried", unit="1")
TASKS_PERPETUATED = meter.create_counter("docket_tasks_perpetuated", unit="1")
TASKS_COMPLETED = meter.create_counter("docket_tasks_completed", unit="1")
TASKS_RUNNING = meter.create_up_down_counter("docket_tasks_running", unit="1")
TASK_DURATION = meter.create_histogram("docket_task_duration", unit="s")
TASK_PUNCTUALITY = meter.create_histogram("docket_task_punctuality", unit="s")
QUEUE_DEPTH = meter.create_gauge("docket_queue_depth", unit="1")
SCHEDULE_DEPTH = meter.create_gauge("docket_schedule_depth", unit="1")
REDIS_DISRUPTIONS = meter.create_counter("docket_redis_disruptions", unit="1")
TASKS_DEAD_LETTERED = meter.create_counter(
    "docket_tasks_dead_lettered",
    unit="1",
    description="Messages moved to the dead-letter stream, by reason",
)
STRIKES_IN_EFFECT = meter.create_up_down_counter("docket_strikes_in_effect", unit="1")
CACHE_SIZE = meter.create_gauge("docket_cache_size", unit="1")
# Isolated tasks (docket._worker.isolation): children alive, replaced (by cause),
# killed at their Timeout.
ISOLATED_CHILDREN = meter.create_up_down_counter("docket_isolated_children", unit="1")
ISOLATED_RESTARTS = meter.create_counter("docket_isolated_restarts", unit="1")
ISOLATED_TIMEOUTS = meter.create_counter("docket_isolated_timeouts", unit="1")


class MessageGetter(Getter[dict[bytes, bytes]]):
    def get(self, carrier: dict[bytes, bytes], key: str) -> list[str] | None:
        value = carrier.get(key.encode())
        return None if value is None else [value.decode()]

    def keys(self, carrier: dict[bytes, bytes]) -> list[str]:
        return [key.decode() for key in carrier]


class MessageSetter(Setter[dict[bytes, bytes]]):
    def set(self, carrier: dict[bytes, bytes], key: str, value: str) -> None:
        carrier[key.encode()] = value.encode()


message_getter = MessageGetter()
message_setter = MessageSetter()


class _HealthHandler(BaseHTTPRequestHandler):
    probe: Callable[[], bool] | None = None
    notes: Callable[[], Sequence[str]] | None = None

    def _answer(self, with_body: bool) -> None:
        try:
            healthy = self.probe() if self.probe is not None else True
        except Exception:  # a probe that fails means "not healthy"
            healthy = False
        try:
            notes = list(self.notes()) if self.notes is not None else []
        except Exception:
            notes = []
        lines = ["OK" if healthy else "UNHEALTHY", *(f"WARNING: {n}" for n in notes)]
        body = "\n".join(lines).encode()
        self.send_response(200 if healthy else 503)
        self.send_header("Content-type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._answer(with_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(with_body=False)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def _serve(server: ThreadingHTTPServer) -> Generator[ThreadingHTTPServer, None, None]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def healthcheck_server(
    host: str = "0.0.0.0",
    port: int | None = None,
    probe: Callable[[], bool] | None = None,
    notes: Callable[[], Sequence[str]] | None = None,
) -> Generator[None, None, None]:
    """Answer every GET with 200 ``OK`` while ``probe()`` (if given) is true, and
    503 ``UNHEALTHY`` otherwise, followed by one ``WARNING: ...`` line per note
    (``notes()``, such as a Redis that may evict keys); nothing at all when
    ``port`` is None."""
    if port is None:
        yield
        return
    handler = type(
        "HealthHandler",
        (_HealthHandler,),
        {
            "probe": staticmethod(probe) if probe else None,
            "notes": staticmethod(notes) if notes else None,
        },
    )
    with _serve(ThreadingHTTPServer((host, port), handler)):
        yield


@contextmanager
def metrics_server(
    host: str = "0.0.0.0", port: int | None = None
) -> Generator[None, None, None]:
    """Serve the Prometheus exposition of docket's metrics on ``port``."""
    if port is None:
        yield
        return
    try:
        from opentelemetry.exporter.prometheus import (  # pyright: ignore[reportMissingImports]
            PrometheusMetricReader,
        )
        from opentelemetry.sdk.metrics import MeterProvider
    except ImportError as error:
        raise ImportError(
            "The metrics endpoint requires opentelemetry-sdk and its Prometheus "
            "exporter. Install with: pip install docket[metrics] (or "
            "pip install pydocket[metrics] where your project depends on pydocket)"
        ) from error
    from prometheus_client import start_http_server

    _install_prometheus_reader(MeterProvider, PrometheusMetricReader)
    server, thread = start_http_server(port, addr=host)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


_prometheus_installed = False


def _install_prometheus_reader(provider_class: Any, reader_class: Any) -> None:
    """Install a global MeterProvider that feeds prometheus_client, once."""
    global _prometheus_installed
    if _prometheus_installed:
        return
    current = metrics.get_meter_provider()
    if isinstance(current, provider_class):
        logger.warning(
            "A MeterProvider is already installed; /metrics shows only what it "
            "exports to prometheus_client"
        )
    else:
        metrics.set_meter_provider(provider_class(metric_readers=[reader_class()]))
    _prometheus_installed = True


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
