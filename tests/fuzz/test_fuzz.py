"""Property-based fuzzing of the HTTP surface: whatever a client sends, the service answers
below 500, with a JSON body of ``data`` and/or ``errors``, every error coded with one of the
README's codes (never INTERNAL_SERVER_ERROR), nothing of its internals, and within
``REQUEST_TIMEOUT_SECONDS``.

Inputs: queries generated from the schema (valid ones, and ones with one schema violation),
arbitrary variables for the README's queries, arbitrary bodies, content types and query
strings, and token soup that mostly fails to parse. Examples are derandomized and nothing is
saved to hypothesis's example database, so a CI run is reproducible and leaves no files.
"""

from __future__ import annotations

import json
from datetime import UTC, timedelta
from typing import TypeVar
from urllib.parse import parse_qsl, quote

import graphql
import hypothesis_graphql
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, nodes

from app.assembly.settings import Settings
from app.schema import build_schema, schema_sdl
from tests.fuzz.conftest import REQUEST_TIMEOUT_SECONDS, Answer, FuzzService

T = TypeVar("T")

# The big inputs are the point; hypothesis need not warn that their reprs are big.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

# The codes a client may see for anything it sends (README, Errors), PERSISTED_QUERY_NOT_FOUND
# included. INTERNAL_SERVER_ERROR is deliberately absent: no client input is the server's fault.
ALLOWED_CODES = frozenset(
    {
        "BAD_REQUEST",
        "NOT_FOUND",
        "BAD_USER_INPUT",
        "THROTTLED",
        "UPSTREAM_UNAVAILABLE",
        "UPSTREAM_ACCESS_DENIED",
        "DEADLINE_EXCEEDED",
        "GRAPHQL_PARSE_FAILED",
        "GRAPHQL_VALIDATION_FAILED",
        "UNAUTHENTICATED",
        "PERSISTED_QUERY_NOT_FOUND",
        "TOO_MANY_ERRORS",
        "RESPONSE_TOO_LARGE",
    }
)

# Signs of internals in a body: a traceback, botocore, the local endpoint's address.
LEAKS = ("Traceback", 'File "', "botocore", "127.0.0.1")

FUZZ = settings(
    database=None,
    derandomize=True,
    deadline=timedelta(seconds=REQUEST_TIMEOUT_SECONDS),
    # Some strategies here build big inputs (5,000-digit numbers, 300 KB bodies) on purpose.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

JSON_TYPE = "application/json"


def mostly(
    common: st.SearchStrategy[T], rare: st.SearchStrategy[T], weight: int = 3
) -> st.SearchStrategy[T]:
    """``common`` ``weight`` times out of ``weight + 1``, else ``rare``. (``st.one_of`` cannot
    weigh: it picks its branches about evenly, repeated ones included.)"""
    return st.sampled_from([True] * weight + [False]).flatmap(lambda pick: common if pick else rare)


def check(answer: Answer, sent: str = "", *, ide_allowed: bool = False) -> None:
    """The properties every answer has. Each kind of failure fails on its own line, so
    hypothesis reports (and shrinks) each kind separately."""
    note(f"sent: {sent if len(sent) <= 3000 else sent[:3000] + '...'}")
    assert answer.seconds < REQUEST_TIMEOUT_SECONDS, f"slow: {answer.seconds:.1f}s {answer!r}"
    assert answer.status < 500, f"server error: {answer!r}"
    content_type = answer.headers.get("content-type", "")
    if ide_allowed and answer.status == 200 and content_type.startswith("text/html"):
        return  # GraphiQL, for a GET without a query that accepts HTML
    for marker in LEAKS:
        assert marker in sent or marker not in answer.text, f"leaks {marker!r}: {answer!r}"
    assert "json" in content_type, f"not JSON: {answer!r}"
    try:
        body = json.loads(answer.content)
    except ValueError:
        raise AssertionError(f"body does not parse as JSON: {answer!r}") from None
    assert isinstance(body, dict), f"body is not an object: {answer!r}"
    assert body.keys() & {"data", "errors"}, f"neither data nor errors: {answer!r}"
    assert body.keys() <= {"data", "errors", "extensions"}, f"odd members: {answer!r}"
    errors = body.get("errors", [])
    assert isinstance(errors, list), f"errors is not a list: {answer!r}"
    if answer.status >= 400:
        assert errors, f"a refusal without errors: {answer!r}"
    for error in errors:
        assert isinstance(error, dict), f"an error is not an object: {answer!r}"
        assert isinstance(error.get("message"), str), f"an error without a message: {answer!r}"
        code = (error.get("extensions") or {}).get("code")
        assert code is not None, f"an error without extensions.code: {answer!r}"
        assert code != "INTERNAL_SERVER_ERROR", f"INTERNAL_SERVER_ERROR: {answer!r}"
        assert code in ALLOWED_CODES, f"unknown code {code!r}: {answer!r}"


def post_json(service: FuzzService, text: str) -> Answer:
    return service.send(
        "POST", "/graphql", content=text.encode(), headers={"content-type": JSON_TYPE}
    )


# ---------------------------------------------------------------------------------------------
# Shared values

IMAGE_NAMES = [
    "pytorch-training",
    "pytorch-inference",
    "tensorflow-notebook",
    "sklearn-kernel",
    "r-analytics",
    "no-such-image",
]
ARN_PREFIX = "arn:aws:sagemaker:us-east-1:123456789012:image-version/"

# Strings worth trying anywhere a string goes: real names, edges of the patterns, oddities.
ODD_STRINGS = st.sampled_from(
    [
        *IMAGE_NAMES,
        "stable",
        "",
        " ",
        "a" * 63,
        "a" * 64,
        "-",
        "bad name",
        "\x00",
        "\ud7ff\ue000\U0010ffff",
        "é" * 10,
        "\u202e",
        "%s%n",
        "{{}}",
        "../../etc/passwd",
        "'; DROP TABLE images; --",
        f"{ARN_PREFIX}pytorch-training/3",
        f"{ARN_PREFIX}pytorch-training/99999999999999999999",
        "arn:aws:sagemaker:us-east-1:123456789012:image/pytorch-training",
        "2024-01-01T00:00:00",
        "2024-01-01T00:00:00+00:00",
        "9999-12-31T23:59:59.999999Z",
        "0001-01-01",
        "YXJyYXljb25uZWN0aW9uOjA=",
        "Image",
        "ImageVersion",
    ]
)
TEXT = st.text(max_size=40) | ODD_STRINGS

NAMES = st.sampled_from(
    [
        "imageName",
        "version",
        "alias",
        "imageVersionArn",
        "__typename",
        "refs",
        "first",
        "after",
        "nameContains",
        "sortBy",
        "sortOrder",
        "filter",
        "creationTimeAfter",
        "lastModifiedTimeBefore",
        "representations",
        "query",
        "variables",
        "operationName",
        "extensions",
        "persistedQuery",
        "sha256Hash",
    ]
) | st.text(max_size=12)


# ---------------------------------------------------------------------------------------------
# JSON as text, so that it can hold what Python's json.dumps cannot write: 5,000-digit numbers,
# NaN, 1e400, nesting deeper than the recursion limit.


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


NUMBERS = st.one_of(
    st.integers().map(str),
    st.sampled_from(
        [2**31 - 1, 2**31, -(2**31) - 1, 2**53 + 1, 2**63, 2**64, -1, 0, 100, 101, 10**400]
    ).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(_dumps),
    st.sampled_from(["1e308", "-1e308", "1e400", "5e-324", "-0", "0.0", "1.5", "1E2"]),
)
# What Python's json module reads but JSON forbids or Python cannot hold: one number in eight.
JSON_NUMBERS = mostly(
    NUMBERS,
    st.sampled_from(["NaN", "Infinity", "-Infinity"])
    | st.integers(min_value=1, max_value=5_000).map(lambda n: "9" * n),
    7,
)


def _json_array(items: list[str]) -> str:
    return "[" + ",".join(items) + "]"


def _json_object(members: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f"{_dumps(key)}:{value}" for key, value in members) + "}"


def json_texts(*, long: list[int], depths: list[int]) -> st.SearchStrategy[str]:
    """JSON documents of any type; one in ten a string of one of the ``long`` lengths, one in ten
    arrays or objects nested to one of the ``depths``."""
    scalars = st.one_of(st.sampled_from(["null", "true", "false"]), JSON_NUMBERS, TEXT.map(_dumps))
    nested = st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=5).map(_json_array),
            st.lists(st.tuples(NAMES, children), max_size=5).map(_json_object),
        ),
        max_leaves=20,
    )
    long_strings = st.sampled_from(long).map(lambda n: _dumps("x" * n))
    deep = st.sampled_from(depths).flatmap(
        lambda depth: st.sampled_from(
            ["[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth]
        )
    )
    return mostly(nested, long_strings | deep, 4)


# Strings past the 256 KiB body limit, nesting past the recursion limit.
JSON_TEXT = json_texts(long=[1_000, 70_000, 300_000], depths=[100, 1_000, 5_000, 100_000])
JSON_SCALARS = st.one_of(st.sampled_from(["null", "true", "false"]), JSON_NUMBERS, TEXT.map(_dumps))
# What fits in a URL (httpx refuses a query string over 64 KiB, as servers do).
SHORT_JSON_TEXT = json_texts(long=[1_000, 3_000], depths=[100, 500, 1_000])


# ---------------------------------------------------------------------------------------------
# 1. Queries generated from the schema


# The SDL imports @link, @key, @shareable, @cost and @listSize from the federation spec;
# graphql-core needs them declared.
FEDERATION_DIRECTIVES = """
directive @link(url: String!, import: [String]) repeatable on SCHEMA
directive @key(fields: String!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE
directive @shareable repeatable on OBJECT | FIELD_DEFINITION
directive @cost(weight: Int!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION
  | INPUT_FIELD_DEFINITION | OBJECT | SCALAR
directive @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!],
  requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION
"""
SDL = FEDERATION_DIRECTIVES + schema_sdl(build_schema(Settings().schema_limits()))


def _object_node(fields: dict[str, graphql.ValueNode]) -> graphql.ObjectValueNode:
    return nodes.Object(
        [
            graphql.ObjectFieldNode(name=graphql.NameNode(value=name), value=value)
            for name, value in fields.items()
        ]
    )


# Custom scalar values that the parser and validation accept, so that these documents reach
# the resolvers (the token soup and the negative mode cover the rest).
GRAPHQL_NAMES = st.from_regex(r"[_A-Za-z][_0-9A-Za-z]{0,10}", fullmatch=True)
SCALAR_NODES: st.SearchStrategy[graphql.ValueNode] = st.one_of(
    TEXT.map(nodes.String),
    st.integers().map(nodes.Int),
    st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
    st.booleans().map(nodes.Boolean),
)
KEY_NAMES = st.sampled_from(["__typename", "imageName", "imageVersionArn"]) | GRAPHQL_NAMES
# Entity representations: mostly shaped like Image and ImageVersion keys, with the odd one out.
REPRESENTATION_NODES: st.SearchStrategy[graphql.ValueNode] = st.one_of(
    st.builds(
        lambda typename, name: _object_node(
            {"__typename": nodes.String(typename), "imageName": nodes.String(name)}
        ),
        st.sampled_from(["Image", "ImageVersion", "Query", "Nope"]),
        TEXT,
    ),
    st.builds(
        lambda typename, arn: _object_node(
            {"__typename": nodes.String(typename), "imageVersionArn": nodes.String(arn)}
        ),
        st.sampled_from(["ImageVersion", "Image"]),
        TEXT | st.builds(lambda n, v: f"{ARN_PREFIX}{n}/{v}", st.sampled_from(IMAGE_NAMES), TEXT),
    ),
    st.dictionaries(KEY_NAMES, SCALAR_NODES | st.just(nodes.Null), max_size=4).map(_object_node),
    SCALAR_NODES,
    st.lists(SCALAR_NODES | st.just(nodes.Null), max_size=3).map(nodes.List),
)
DATETIME_NODES: st.SearchStrategy[graphql.ValueNode] = st.datetimes(
    timezones=st.none() | st.just(UTC)
).map(lambda moment: nodes.String(moment.isoformat()))
CUSTOM_SCALARS = {"DateTime": DATETIME_NODES, "_Any": REPRESENTATION_NODES}


def send_document(service: FuzzService, query: str, method: str) -> tuple[Answer, str]:
    # A document too long for a URL (httpx refuses one over 64 KiB, as servers do) goes by POST.
    if method == "GET" and len(query) < 20_000:
        answer = service.send(
            "GET", "/graphql", params={"query": query}, headers={"accept": JSON_TYPE}
        )
    else:
        answer = post_json(service, _dumps({"query": query}))
    return answer, query


@settings(FUZZ, max_examples=200)
@given(
    query=hypothesis_graphql.from_schema(SDL, custom_scalars=CUSTOM_SCALARS),
    method=st.sampled_from(["POST", "POST", "GET"]),
)
def test_valid_queries_from_the_schema(fuzz_service: FuzzService, query: str, method: str) -> None:
    check(*send_document(fuzz_service, query, method))


@settings(FUZZ, max_examples=150)
@given(
    query=hypothesis_graphql.from_schema(SDL, custom_scalars=CUSTOM_SCALARS, mode=Mode.NEGATIVE),
    method=st.sampled_from(["POST", "POST", "GET"]),
)
def test_queries_with_one_schema_violation(
    fuzz_service: FuzzService, query: str, method: str
) -> None:
    check(*send_document(fuzz_service, query, method))


# ---------------------------------------------------------------------------------------------
# 2. Arbitrary variables for the README's queries (hypothesis-graphql writes no variables)

VERSION_FIELDS = "imageVersionArn version imageVersionStatus vendorGuidance aliases creationTime"
README_QUERIES: dict[str, tuple[str, list[str]]] = {
    "StableTraining": (
        "query StableTraining($imageName: String!, $alias: String, $version: Int) {"
        " imageVersion(imageName: $imageName, alias: $alias, version: $version)"
        f" {{ {VERSION_FIELDS} image {{ displayName }} }} }}",
        ["imageName", "alias", "version"],
    ),
    "Kernels": (
        "query Kernels($refs: [ImageVersionRef!]!) {"
        " imageVersions(refs: $refs) { imageName version imageVersionStatus failureReason } }",
        ["refs"],
    ),
    "Catalog": (
        "query Catalog($first: Int! = 3, $after: String, $nameContains: String,"
        " $sortBy: ImageSortBy! = IMAGE_NAME, $sortOrder: ImageSortOrder! = ASCENDING,"
        " $filter: ImageTimeFilter) {"
        " images(first: $first, after: $after, nameContains: $nameContains, sortBy: $sortBy,"
        " sortOrder: $sortOrder, filter: $filter) {"
        " edges { node { imageName displayName latestVersion { version aliases } } }"
        " pageInfo { hasNextPage endCursor } } }",
        ["first", "after", "nameContains", "sortBy", "sortOrder", "filter"],
    ),
    "History": (
        "query History($imageName: String!, $first: Int! = 10, $after: String,"
        " $sortBy: ImageVersionSortBy! = VERSION, $filter: ImageTimeFilter,"
        " $skip: Boolean = false) {"
        " image(imageName: $imageName) { description roleArn"
        " versions(first: $first, after: $after, sortBy: $sortBy, filter: $filter)"
        " @skip(if: $skip) { edges { cursor node { version aliases } } } } }",
        ["imageName", "first", "after", "sortBy", "filter", "skip"],
    ),
    "Entities": (
        "query Entities($representations: [_Any!]!) { _entities(representations: $representations)"
        " { __typename ... on Image { imageName displayName }"
        f" ... on ImageVersion {{ {VERSION_FIELDS} }} }} }}",
        ["representations"],
    ),
}

STRINGS = TEXT.map(_dumps)


def _refs(members: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A JSON list of objects with these members (a ref or a representation), some repeated,
    with the odd arbitrary value among them."""
    item = st.lists(st.tuples(members, STRINGS | JSON_SCALARS), max_size=4).map(_json_object)
    return item.flatmap(
        lambda first: st.lists(mostly(st.just(first), item | JSON_TEXT, 1), max_size=8)
    ).map(_json_array)


INTS = JSON_NUMBERS | st.integers(-2, 102).map(str)
DATETIMES = st.datetimes(timezones=st.none() | st.just(UTC)).map(lambda d: _dumps(d.isoformat()))
TIME_FILTERS = st.lists(
    st.tuples(
        st.sampled_from(["creationTimeAfter", "creationTimeBefore", "lastModifiedTimeAfter"])
        | NAMES,
        DATETIMES | STRINGS | JSON_SCALARS,
    ),
    max_size=3,
).map(_json_object)


def _enum(*values: str) -> st.SearchStrategy[str]:
    return st.sampled_from([*values, "nope", "ascending"]).map(_dumps)


# What each variable expects, most of the time, so that the checks behind the schema (and
# SageMaker's) get exercised; else any JSON at all.
TYPED_VALUES: dict[str, st.SearchStrategy[str]] = {
    "imageName": STRINGS,
    "alias": STRINGS,
    "after": STRINGS,
    "nameContains": STRINGS,
    "version": INTS,
    "first": INTS,
    "sortBy": _enum("IMAGE_NAME", "VERSION", "CREATION_TIME", "LAST_MODIFIED_TIME"),
    "sortOrder": _enum("ASCENDING", "DESCENDING"),
    "filter": TIME_FILTERS,
    "skip": st.sampled_from(["true", "false", "null", '"true"', "1"]),
    "refs": _refs(st.sampled_from(["imageName", "version", "alias"]) | NAMES),
    "representations": _refs(
        st.sampled_from(["__typename", "imageName", "imageVersionArn"]) | NAMES
    ),
}


def variable_values(name: str) -> st.SearchStrategy[str]:
    typed = TYPED_VALUES.get(name)
    return JSON_TEXT if typed is None else mostly(typed, JSON_TEXT)


@st.composite
def operations_with_variables(draw: st.DrawFn) -> tuple[str, str]:
    """A README query and a JSON text of its request with arbitrary variables."""
    name = draw(st.sampled_from(sorted(README_QUERIES)))
    query, declared = README_QUERIES[name]
    keys = [key for key in declared if draw(mostly(st.just(True), st.just(False)))]
    keys += draw(mostly(st.just([]), st.lists(NAMES, min_size=1, max_size=2)))
    variables = _json_object([(key, draw(variable_values(key))) for key in keys])
    if draw(mostly(st.just(False), st.just(True), 9)):
        variables = draw(JSON_TEXT)  # not an object at all
    operation_name = draw(
        mostly(st.just(_dumps(name)), st.sampled_from(["null", '"Other"', '""', "1"]))
    )
    body = f'{{"query":{_dumps(query)},"variables":{variables},"operationName":{operation_name}}}'
    return name, body


@settings(FUZZ, max_examples=300)
@given(operation=operations_with_variables())
def test_arbitrary_variables_for_the_readme_queries(
    fuzz_service: FuzzService, operation: tuple[str, str]
) -> None:
    _, body = operation
    check(post_json(fuzz_service, body), body)


# ---------------------------------------------------------------------------------------------
# 3. Arbitrary HTTP bodies, content types and query strings

CONTENT_TYPES = st.one_of(
    st.sampled_from(
        [
            None,
            "application/json",
            "application/json; charset=utf-8",
            "application/json; charset=latin-1",
            "application/json;;;",
            "application/graphql",
            "application/graphql-response+json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "multipart/form-data; boundary=xyz",
            "multipart/mixed",
            "text/event-stream",
            "",
            "*/*",
        ]
    ),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30),
)
ACCEPTS = st.sampled_from(
    [
        None,
        "application/json",
        "application/graphql-response+json",
        "multipart/mixed;subscriptionSpec=1.0",
        "multipart/mixed; deferSpec=20220824",
        "text/event-stream",
        "text/html",
        "*/*",
    ]
)

REAL_QUERIES = st.sampled_from(
    [query for query, _ in README_QUERIES.values()]
    + [
        "{ __typename }",
        '{ image(imageName: "r-analytics") { imageName } }',
        "{ _service { sdl } }",
    ]
)
REQUEST_MEMBERS = st.sampled_from(["query", "variables", "operationName", "extensions"]) | NAMES
OPERATION_NAMES = st.sampled_from([*README_QUERIES, "Other", ""])
PERSISTED_QUERY = '{"persistedQuery":{"version":1,"sha256Hash":"abc"}}'


@st.composite
def request_members(draw: st.DrawFn, json_text: st.SearchStrategy[str]) -> list[tuple[str, str]]:
    """The members of a GraphQL request as JSON texts: a query three times in four, the others
    half the time; values of their own type three times in four, else any JSON; and now and
    then members of any name."""
    typed = {
        "query": REAL_QUERIES.map(_dumps),
        "variables": st.lists(st.tuples(NAMES, json_text), max_size=3).map(_json_object),
        "operationName": OPERATION_NAMES.map(_dumps),
        "extensions": st.just(PERSISTED_QUERY),
    }
    return _some_members(draw, typed, json_text)


@st.composite
def query_params(draw: st.DrawFn) -> list[tuple[str, str]]:
    """A GET request's parameters: a query three times in four, the others half the time, now
    and then parameters of any name; values of their own type mostly, else any text or JSON."""
    typed = {
        "query": REAL_QUERIES,
        "variables": st.lists(st.tuples(NAMES, SHORT_JSON_TEXT), max_size=3).map(_json_object),
        "operationName": OPERATION_NAMES,
        "extensions": st.just(PERSISTED_QUERY),
    }
    return _some_members(draw, typed, st.one_of(SHORT_JSON_TEXT, TEXT, st.just("")))


def _some_members(
    draw: st.DrawFn, typed: dict[str, st.SearchStrategy[str]], other: st.SearchStrategy[str]
) -> list[tuple[str, str]]:
    """The query three times in four and each other member of ``typed`` half the time, valued
    by its own strategy mostly, else by ``other``; now and then members of any name; in any
    order."""
    members = [
        (member, draw(mostly(strategy, other)))
        for member, strategy in typed.items()
        if draw(mostly(st.just(True), st.just(False)) if member == "query" else st.booleans())
    ]
    extra = st.lists(st.tuples(REQUEST_MEMBERS, other), min_size=1, max_size=2)
    members += draw(mostly(st.just([]), extra))
    return draw(st.permutations(members))


REQUEST_OBJECTS = request_members(JSON_TEXT).map(_json_object)
# Request bodies that are JSON: a request object most of the time, else any JSON.
JSON_BODIES = mostly(REQUEST_OBJECTS, JSON_TEXT)


def _headers(content_type: str | None, accept: str | None) -> dict[str, str]:
    headers = {}
    if content_type is not None:
        headers["content-type"] = content_type
    if accept is not None:
        headers["accept"] = accept
    return headers


@settings(FUZZ, max_examples=200)
@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.builds(lambda chunk, times: chunk * times, st.binary(max_size=20), st.integers(1, 3)),
        st.sampled_from([b"", b"\xff\xfe", b"\xef\xbb\xbf{}", b"{", b"\x00" * 300_000]),
        st.text(max_size=100).map(lambda text: text.encode("utf-16")),
    ),
    content_type=mostly(st.just(JSON_TYPE), CONTENT_TYPES, 2),
    accept=mostly(st.none(), ACCEPTS, 2),
)
def test_random_bytes_posted(
    fuzz_service: FuzzService, body: bytes, content_type: str | None, accept: str | None
) -> None:
    answer = fuzz_service.send(
        "POST", "/graphql", content=body, headers=_headers(content_type, accept)
    )
    check(answer, body.decode("utf-8", errors="replace"))


@settings(FUZZ, max_examples=300)
@given(
    body=JSON_BODIES,
    content_type=mostly(st.just(JSON_TYPE), CONTENT_TYPES),
    accept=mostly(st.none(), ACCEPTS),
)
def test_random_json_posted(
    fuzz_service: FuzzService, body: str, content_type: str | None, accept: str | None
) -> None:
    answer = fuzz_service.send(
        "POST", "/graphql", content=body.encode(), headers=_headers(content_type, accept)
    )
    check(answer, body)


QUERY_STRING_PIECES = st.one_of(
    st.sampled_from(
        [
            *("query=", "variables=", "operationName=", "extensions=", "&", "=", "+", "%"),
            *("%ZZ", "%FF", "%00", "%7B__typename%7D", "query={__typename}", "%7B", ";", "?"),
            "#",
        ]
    ),
    st.text(max_size=10),
)


@settings(FUZZ, max_examples=200)
@given(
    params=query_params(),
    raw=st.lists(QUERY_STRING_PIECES, max_size=8).map("".join),
    use_raw=mostly(st.just(False), st.just(True), 2),
    accept=mostly(st.none(), ACCEPTS, 2),
)
def test_random_query_strings(
    fuzz_service: FuzzService,
    params: list[tuple[str, str]],
    raw: str,
    use_raw: bool,
    accept: str | None,
) -> None:
    headers = _headers(None, accept)
    if use_raw:
        # Raw, but for what no client can put in a request line (controls, spaces, non-ASCII).
        query_string = quote(raw, safe="".join(map(chr, range(0x21, 0x7F))))
        answer = fuzz_service.send("GET", f"/graphql?{query_string}", headers=headers)
        sent = raw
        keys = {key for key, _ in parse_qsl(query_string.split("#")[0], keep_blank_values=True)}
    else:
        answer = fuzz_service.send("GET", "/graphql", params=params, headers=headers)
        sent = repr(params)
        keys = {key for key, _ in params}
    # GraphiQL is a fair answer to a browser's GET without a query (httpx accepts */*).
    html = accept is None or "text/html" in accept or "*/*" in accept
    check(answer, sent, ide_allowed=html and "query" not in keys)


@settings(FUZZ, max_examples=30)
@given(
    method=st.sampled_from(["PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "FOO"]),
    body=st.binary(max_size=20),
)
def test_other_methods_on_graphql(fuzz_service: FuzzService, method: str, body: bytes) -> None:
    answer = fuzz_service.send(method, "/graphql", content=body)
    check(answer, f"{method} {body!r}")


# ---------------------------------------------------------------------------------------------
# 4. Token soup: documents of GraphQL tokens in random order, most of which do not parse

TOKENS = st.one_of(
    st.sampled_from(
        [
            *("{", "}", "(", ")", "[", "]", ":", "$", "!", "=", "|", "&", "...", "@", ",", "\n"),
            *("@skip(if: true)", "@skip", "@include(if: $x)", "@defer", "@stream", "on"),
            *("query", "mutation", "subscription", "fragment", "true", "false", "null", "#c\n"),
            *("__typename", "__schema", '__type(name: "Image")', "_entities", "_service"),
            *("representations", "imageVersion", "imageVersions", "image", "images"),
            *("imageName", "version", "alias", "refs", "first", "after", "edges", "node"),
            *("pageInfo", "sdl", "aliases", "versions", "latestVersion", "Image", "ImageVersion"),
            *("IMAGE_NAME", '"pytorch-training"', '"stable"', '""', '"""block"""', '"\\u0000"'),
            *('"\\uD800"', '"', '"""', "\\", "1e308", "1e400", "-0", "0x1", "1.", ".5", "-"),
            *("\ufeff", "\u00a0"),
        ]
    ),
    st.integers().map(str),
    # Past Int's 32 bits, Float's range, and Python's 4,300-digit limit on int("...").
    st.sampled_from([10, 11, 19, 20, 309, 310, 4_300, 4_301, 5_000]).map(lambda n: "9" * n),
    st.integers(min_value=1, max_value=5_000).map(lambda n: "9" * n),
    st.sampled_from([10, 100, 1_000, 5_000]).flatmap(
        lambda depth: st.sampled_from(["[" * depth, "{" * depth, "{a" * depth])
    ),
    st.from_regex(r"[_A-Za-z][_0-9A-Za-z]{0,8}", fullmatch=True),
    st.text(max_size=3),
)


@st.composite
def token_soup(draw: st.DrawFn) -> str:
    tokens = draw(st.lists(TOKENS, min_size=1, max_size=30))
    text = draw(st.sampled_from([" ", "", "\t"])).join(tokens)
    frame = draw(
        st.sampled_from(
            [
                "{}",
                "{{ {} }}",
                "query Q {{ {} }}",
                "{{ images(first: {}) {{ pageInfo {{ hasNextPage }} }} }}",
                '{{ imageVersion(imageName: "pytorch-training", version: {}) {{ version }} }}',
                "{{ imageVersions(refs: [{}]) {{ version }} }}",
                "{{ _entities(representations: [{}]) {{ __typename }} }}",
            ]
        )
    )
    return frame.format(text)


@settings(FUZZ, max_examples=400)
@given(document=token_soup(), method=st.sampled_from(["POST", "POST", "GET"]))
def test_token_soup(fuzz_service: FuzzService, document: str, method: str) -> None:
    check(*send_document(fuzz_service, document, method))
