"""Spans through ``app.spans``: with no tracer provider set, no span is made, yet a request that
carries a caller's ``traceparent`` still has that trace current, so its log lines name it; once a
provider is set, the same tracers (got before it, as the rooms get theirs at import) record.

OpenTelemetry lets a process set its tracer provider only once, and the service tests set one
for their session, so each case runs in a fresh interpreter whose provider is its own."""

from __future__ import annotations

from typing import Any

import pytest

from tests.processes import answer_of_fresh_python

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"

# One request through the real middleware to an app that starts a span of its own and logs a
# line inside it; with a provider (an in-memory exporter's) set after the tracer was got when
# the program asks for it.
PROGRAM = """
import asyncio, json, logging, sys
from opentelemetry import trace
from app.spans import start_span
from app.web.middleware import RequestLog
from tests.log_lines import logged

tracer = trace.get_tracer("test")
header = b"traceparent"
if sys.argv[3] == "mixed-case":
    # A propagator that names its header in mixed case, as X-Ray's names X-Amzn-Trace-Id.
    from opentelemetry import propagate
    from opentelemetry.propagators.textmap import default_getter
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    class MixedCase(TraceContextTextMapPropagator):
        def extract(self, carrier, context=None, getter=default_getter):
            sent = getter.get(carrier, "Caller-Trace")
            return super().extract({"traceparent": sent[0] if sent else ""}, context)

        @property
        def fields(self):
            return {"Caller-Trace"}

    propagate.set_global_textmap(MixedCase())
    header = b"caller-trace"
headers = [(header, sys.argv[1].encode())] if sys.argv[1] else []
if sys.argv[2] == "provider":
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
recording = []

async def inner(scope, receive, send):
    with start_span(tracer, "inner") as span:
        recording.append(span.is_recording())
        logging.getLogger("app.test").info({"event": "inside"})
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})

async def request():
    scope = {"type": "http", "method": "GET", "path": "/healthz", "headers": headers}
    async def receive():
        return {"type": "http.request", "body": b""}
    async def send(message):
        pass
    await RequestLog(inner)(scope, receive, send)

with logged("app") as logs:
    asyncio.run(request())
spans = exporter.get_finished_spans() if sys.argv[2] == "provider" else ()
print(json.dumps({
    "traceIds": {line["event"]: line.get("traceId") for line in logs.lines},
    "recording": recording,
    "spans": {
        span.name: {
            "trace": format(span.context.trace_id, "032x"),
            "id": format(span.context.span_id, "016x"),
            "parent": format(span.parent.span_id, "016x") if span.parent else None,
        }
        for span in spans
    },
}))
"""


def _requested(traceparent: str, provider: bool, propagator: str = "w3c") -> dict[str, Any]:
    seen: dict[str, Any] = answer_of_fresh_python(
        PROGRAM, traceparent, "provider" if provider else "none", propagator
    )
    return seen


def test_without_a_provider_no_span_is_made_and_no_trace_is_named() -> None:
    assert _requested("", provider=False) == {
        "traceIds": {"inside": None, "http_request": None},
        "recording": [False],
        "spans": {},
    }


def test_without_a_provider_a_callers_trace_is_current_for_the_log_lines() -> None:
    seen = _requested(f"00-{CALLER_TRACE}-{CALLER_SPAN}-01", provider=False)
    assert seen["traceIds"] == {"inside": CALLER_TRACE, "http_request": CALLER_TRACE}
    assert seen["recording"] == [False]


def test_with_a_provider_the_same_tracers_record_under_the_callers_span() -> None:
    seen = _requested(f"00-{CALLER_TRACE}-{CALLER_SPAN}-01", provider=True)
    assert seen["traceIds"] == {"inside": CALLER_TRACE, "http_request": CALLER_TRACE}
    assert seen["recording"] == [True]
    request, inner = seen["spans"]["GET /healthz"], seen["spans"]["inner"]
    assert request["trace"] == inner["trace"] == CALLER_TRACE
    assert request["parent"] == CALLER_SPAN
    assert inner["parent"] == request["id"]


@pytest.mark.parametrize("provider", [False, True])
def test_a_propagator_may_name_its_header_in_any_case(provider: bool) -> None:
    # ASGI gives header names in lower case; the propagator asks for its own spelling.
    seen = _requested(f"00-{CALLER_TRACE}-{CALLER_SPAN}-01", provider, "mixed-case")
    assert seen["traceIds"] == {"inside": CALLER_TRACE, "http_request": CALLER_TRACE}
