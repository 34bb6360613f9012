"""OpenTelemetry's SDK and exporter are loaded only when the ``OTEL_*`` environment asks for
them. Each case builds the app in a fresh interpreter, whose modules and tracer provider are
its own."""

from __future__ import annotations

import pytest

from app.assembly.telemetry import traces_wanted
from tests.processes import answer_of_fresh_python

# Build the app (no lifespan: no endpoint, no AWS call) and say what came in.
PROGRAM = """
import json, sys
from opentelemetry import trace
from app.assembly.build import create_app
from app.assembly.settings import Settings

create_app(Settings(backend="local"))
loaded = sorted(
    name for name in sys.modules
    if name.startswith(("opentelemetry.sdk", "opentelemetry.exporter", "google.protobuf"))
)
print(json.dumps({"loaded": loaded, "provider": type(trace.get_tracer_provider()).__name__}))
"""


def _built_with(**otel: str) -> dict[str, object]:
    built: dict[str, object] = answer_of_fresh_python(PROGRAM, **otel)
    return built


def test_nothing_of_the_sdk_is_loaded_unless_asked() -> None:
    assert _built_with() == {"loaded": [], "provider": "ProxyTracerProvider"}


def test_the_otlp_exporter_when_an_endpoint_is_set() -> None:
    built = _built_with(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4318")
    assert built["provider"] == "TracerProvider"
    assert "opentelemetry.exporter.otlp.proto.http.trace_exporter" in built["loaded"]  # type: ignore[operator]


@pytest.mark.parametrize(
    ("environ", "wanted"),
    [
        ({}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"}, False),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://x/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_what_asks_for_traces(environ: dict[str, str], wanted: bool) -> None:
    assert traces_wanted(environ) is wanted


def test_an_exporter_this_service_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="OTLP only"):
        traces_wanted({"OTEL_TRACES_EXPORTER": "zipkin"})
