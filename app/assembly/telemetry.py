"""OpenTelemetry's exporter, set up only when the standard ``OTEL_*`` environment asks for it.

The rooms trace through OpenTelemetry's API alone (a request's span, its loaders' batches, the
cache's lookups, SageMaker's calls), each span started by ``app.spans``; without an SDK behind
it, no span is made at all, and the SDK and the exporter (with protobuf and an HTTP client) are
never imported. They are set up here, once per process, when:

* ``OTEL_TRACES_EXPORTER`` names ``otlp``, or it is unset and ``OTEL_EXPORTER_OTLP_ENDPOINT``
  or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set;
* and ``OTEL_SDK_DISABLED`` is not ``true``.

Spans then go over OTLP/HTTP (protobuf), batched; everything else (endpoint, headers, sampler,
batch sizes, ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``) is read by the SDK from the
same environment, as its documentation says. The service name defaults to this service's.
Incoming W3C ``traceparent`` headers are honoured with or without it (``OTEL_PROPAGATORS``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

log = logging.getLogger("app")

SERVICE_NAME = "sagemaker-images-graphql"
# The only protocol this service ships an exporter for.
PROTOCOL = "http/protobuf"

_configured = False


def traces_wanted(environ: Mapping[str, str]) -> bool:
    """Whether the environment asks for spans to be exported (see the module's docstring)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = environ.get("OTEL_TRACES_EXPORTER")
    if exporters is None:
        return bool(
            environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
            or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        )
    names = {name.strip().lower() for name in exporters.split(",")} - {"", "none"}
    if names - {"otlp"}:
        raise ValueError(
            f"OTEL_TRACES_EXPORTER={exporters}: this service exports traces over OTLP only "
            "(otlp, or none)."
        )
    return "otlp" in names


def configure_tracing(environ: Mapping[str, str]) -> None:
    """Export this process's spans over OTLP/HTTP when ``environ`` asks for it; nothing, and
    nothing of the SDK imported, otherwise. Once per process: the tracer provider is global."""
    global _configured
    if _configured or not traces_wanted(environ):
        return
    protocol = environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", PROTOCOL)
    )
    if protocol.strip().lower() != PROTOCOL:
        raise ValueError(
            f"OTLP protocol {protocol}: this service exports traces over {PROTOCOL} only."
        )
    # Imported here: a service that exports no traces never loads the SDK or the exporter.
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    named = "OTEL_SERVICE_NAME" in environ or "service.name=" in environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    # Attributes given here would override the environment's, so the default name only fills in.
    resource = Resource.create({} if named else {"service.name": SERVICE_NAME})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = True
    log.info(
        {
            "event": "tracing",
            "message": "Exporting OpenTelemetry spans over OTLP/HTTP",
            "endpoint": environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
            or "the SDK's default",
        }
    )
