"""OpenTelemetry over the real app and the local endpoint: one request is one trace (a child of
the caller's ``traceparent``) whose loader batches hold the cache's lookups and SageMaker's
calls, and the request's log line names that trace and the request's id.

The spans are caught by the SDK's in-memory exporter behind the process's tracer provider,
which OpenTelemetry lets a process set only once: the first test here sets it for the session
(later tests' spans then record too, which changes nothing they check)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Literal

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.local_sagemaker import BackgroundEndpoint
from tests.log_lines import logged
from tests.service.conftest import LOCAL_TARGET, TEST_SETTINGS, serving

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
QUERY = """query Versions {
  imageVersions(refs: [{imageName: "sklearn-kernel", version: 1},
                       {imageName: "sklearn-kernel", alias: "stable"}]) { version aliases }
}"""


@pytest.fixture(scope="session")
def exported() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


@pytest.fixture
def spans(exported: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    exported.clear()
    yield exported
    exported.clear()


def _by_name(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name == name]


def _parent(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


@pytest.mark.parametrize("cache", ["off", "memory"])
async def test_one_request_is_one_trace_under_its_callers(
    endpoint: BackgroundEndpoint, spans: InMemorySpanExporter, cache: Literal["off", "memory"]
) -> None:
    settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=endpoint.url, cache=cache)
    async with serving(settings) as (_, client):
        spans.clear()  # the default target's opening, at start
        with logged("app.requests") as logs:
            response = await client.http.post(
                "/graphql",
                json={"query": QUERY, "operationName": "Versions"},
                headers={"traceparent": TRACEPARENT, "X-Request-ID": "frontend-42"},
            )
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "frontend-42"
    finished = spans.get_finished_spans()
    assert {format(span.context.trace_id, "032x") for span in finished} == {CALLER_TRACE}

    (request,) = _by_name(finished, "POST /graphql")
    assert _parent(request) == int(CALLER_SPAN, 16)
    assert request.attributes is not None
    assert request.attributes["graphql.operation.name"] == "Versions"
    assert request.attributes["graphql.operation.type"] == "query"
    assert request.attributes["http.response.status_code"] == 200
    assert request.attributes["http.request.id"] == "frontend-42"

    batches = _by_name(finished, "load DescribeImageVersion") + _by_name(
        finished, "load ListAliases"
    )
    assert {_parent(batch) for batch in batches} == {request.context.span_id}
    describe_batch = _by_name(finished, "load DescribeImageVersion")[0]
    assert describe_batch.attributes == {
        "sagemaker.operation": "DescribeImageVersion",
        "sagemaker.target": str(LOCAL_TARGET),
        "loader.keys": 2,
        "loader.duplicates": 0,
    }

    calls = [span for span in finished if span.name.startswith("SageMaker.")]
    assert (
        sorted(call.name for call in calls)
        == ["SageMaker.DescribeImageVersion"] * 2 + ["SageMaker.ListAliases"] * 2
    )
    by_id = {span.context.span_id: span for span in finished}
    for call in calls:
        attributes = call.attributes or {}
        assert attributes["cloud.region"] == LOCAL_TARGET.region
        assert attributes["cloud.account.id"] == LOCAL_TARGET.account
        assert attributes["aws.retry_attempts"] == 0
        assert isinstance(attributes["aws.request_id"], str)
        assert attributes["aws.request_id"]
        # Under its batch: directly, or through the cache's lookup that missed.
        parent = by_id[_parent(call) or 0]
        if cache == "memory":
            assert parent.name == call.name.replace("SageMaker.", "cache ")
            assert (parent.attributes or {})["cache.result"] == "miss"
            parent = by_id[_parent(parent) or 0]
        assert parent.name == call.name.replace("SageMaker.", "load ")

    (line,) = [line for line in logs.lines if line.get("event") == "http_request"]
    assert line["traceId"] == CALLER_TRACE
    assert line["requestId"] == "frontend-42"


async def test_a_cache_hit_is_a_lookup_without_a_call(
    endpoint: BackgroundEndpoint, spans: InMemorySpanExporter
) -> None:
    settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=endpoint.url, cache="memory")
    query = '{ imageVersion(imageName: "sklearn-kernel", version: 1) { version } }'
    async with serving(settings) as (_, client):
        await client.query(query)
        spans.clear()
        # Another text: not the response cache's, so the record cache answers.
        await client.query(query.replace("version }", "version imageArn }"))
    finished = spans.get_finished_spans()
    (lookup,) = _by_name(finished, "cache DescribeImageVersion")
    assert (lookup.attributes or {})["cache.result"] == "hit"
    assert not [span for span in finished if span.name.startswith("SageMaker.")]


async def test_a_document_run_again_names_its_operation_on_the_span(
    endpoint: BackgroundEndpoint, spans: InMemorySpanExporter
) -> None:
    # The second run of a checked document goes straight to graphql-core, past strawberry's
    # extensions: it names the operation itself.
    settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=endpoint.url)
    async with serving(settings) as (_, client):
        spans.clear()
        for _ in range(2):
            await client.http.post("/graphql", json={"query": QUERY, "operationName": "Versions"})
    requests = _by_name(spans.get_finished_spans(), "POST /graphql")
    assert [(span.attributes or {}).get("graphql.operation.name") for span in requests] == [
        "Versions",
        "Versions",
    ]


async def test_request_ids_are_taken_when_sound_and_made_otherwise(
    endpoint: BackgroundEndpoint,
) -> None:
    settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=endpoint.url)
    async with serving(settings) as (_, client):
        with logged("app.requests") as logs:
            made = await client.http.get("/healthz")
            hostile = await client.http.get(
                "/healthz", headers={"X-Request-ID": "two words " + "x" * 200}
            )
            refused = await client.http.post("/graphql", content=b"not json")
    ids = [made.headers["X-Request-ID"], hostile.headers["X-Request-ID"]]
    assert all(len(made_id) == 32 for made_id in ids)
    assert ids[0] != ids[1]
    assert refused.status_code == 415
    assert len(refused.headers["X-Request-ID"]) == 32
    assert [line["requestId"] for line in logs.lines] == [*ids, refused.headers["X-Request-ID"]]
