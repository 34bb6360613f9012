"""OpenTelemetry spans that cost nothing while nothing records them.

The rooms trace through OpenTelemetry's API alone; without an SDK behind it (no ``OTEL_*``
exporter asked for, see ``app.assembly.telemetry``), its tracer makes non-recording spans, but
each still costs a context manager, a span object and a context attach and detach, and a
request's span a parse of the caller's trace headers: with the cache off, a single-version
query's three spans were about 5 % of what it costs the service (4.1 M instructions a request
with them, 3.9 M without, under callgrind). So every span of the service starts here: with no
SDK's tracer provider set, a child span is no span at all (what OpenTelemetry's no-op tracer
would make current carries its parent's context, which is current already), and a request's
span is only the caller's trace made current, when the request carries one, so that log lines
still name it. Once a provider is set (the exporter's, or a test's), every span is
OpenTelemetry's own.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext

from opentelemetry import context, propagate, trace
from opentelemetry.propagators.textmap import Getter, TextMapPropagator
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Tracer
from opentelemetry.util.types import Attributes


def start_span(
    tracer: Tracer,
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Attributes = None,
) -> AbstractContextManager[Span]:
    """``tracer``'s span ``name``, a child of the current one and current while it lasts; with
    no tracer provider set, nothing (a span that records nothing)."""
    if not _recording():
        return _NO_SPAN
    return tracer.start_as_current_span(name, kind=kind, attributes=attributes)


def start_request_span(
    tracer: Tracer, name: str, headers: Sequence[tuple[bytes, bytes]], attributes: Attributes
) -> AbstractContextManager[Span]:
    """The span of a request that came with ``headers`` (ASGI's: names in lower case, as
    bytes): a server span, a child of the caller's span when the headers carry its W3C
    ``traceparent``. With no tracer provider set, only the caller's trace, made current when the
    headers carry one (as OpenTelemetry's no-op tracer would), and nothing otherwise."""
    if _recording():
        return tracer.start_as_current_span(
            name,
            context=propagate.extract(_carrier(headers), getter=_ANY_CASE),
            kind=SpanKind.SERVER,
            attributes=attributes,
        )
    # Only the headers the propagator reads: a request without them (most) decodes none.
    carried = _carrier(headers, _trace_fields(propagate.get_global_textmap()))
    if not carried:
        return _NO_SPAN
    return _callers_trace(trace.get_current_span(propagate.extract(carried, getter=_ANY_CASE)))


def _carrier(
    headers: Sequence[tuple[bytes, bytes]], only: frozenset[bytes] | None = None
) -> dict[str, str]:
    """ASGI's ``headers`` (or those named in ``only``) as the mapping a propagator reads, the
    first of a repeated header winning, as in Starlette's ``Headers``."""
    carrier: dict[str, str] = {}
    for name, value in headers:
        if only is None or name in only:
            carrier.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return carrier


class _AnyCase(Getter[Mapping[str, str]]):
    """Reads a carrier of ASGI's header names (lower case) by whatever spelling a propagator
    asks for: W3C's are lower case, X-Ray's is ``X-Amzn-Trace-Id``."""

    def get(self, carrier: Mapping[str, str], key: str) -> list[str] | None:
        value = carrier.get(key.lower())
        return None if value is None else [value]

    def keys(self, carrier: Mapping[str, str]) -> list[str]:
        return list(carrier)


_ANY_CASE = _AnyCase()

# Reusable: nullcontext's enter gives back the same non-recording span every time.
_NO_SPAN: AbstractContextManager[Span] = nullcontext(INVALID_SPAN)


@functools.lru_cache(maxsize=4)
def _trace_fields(textmap: TextMapPropagator) -> frozenset[bytes]:
    """The headers ``textmap`` reads, as ASGI names them, kept per propagator: OpenTelemetry's
    composite one builds the set anew on every read of ``fields``."""
    return frozenset(field.lower().encode("latin-1") for field in textmap.fields)


def _recording() -> bool:
    """Whether a tracer provider is set that may record spans (the exporter's or a test's), not
    none or the API's no-op one: without one, the tracers the rooms got from
    ``trace.get_tracer`` make only no-op spans."""
    # The variable itself, not trace.get_tracer_provider(): while no provider is set, that
    # looks for OTEL_PYTHON_TRACER_PROVIDER in the environment on every call (3 µs, most of
    # what a span left out saves). A provider that variable names is set already, as the
    # first trace.get_tracer (at the rooms' import) loads it.
    provider = trace._TRACER_PROVIDER
    return provider is not None and not isinstance(provider, trace.NoOpTracerProvider)


@contextmanager
def _callers_trace(callers: Span) -> Iterator[Span]:
    token = context.attach(trace.set_span_in_context(callers))
    try:
        yield callers
    finally:
        context.detach(token)
