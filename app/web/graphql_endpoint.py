"""``/graphql``: GraphQL over HTTP as the GraphQL-over-HTTP spec words it, and GraphiQL.

A request is read strictly (a JSON object body, or the query string of a GET), its query taken
from the request or, for a persisted query, from the text kept under its hash
(``app.web.persisted_queries``), executed by the schema (or answered from the response cache),
and answered in the media type the client accepts:

* ``application/graphql-response+json`` (preferred when accepted): 200 when the operation ran,
  400 with no ``data`` entry when the document or its variables were refused before execution;
* ``application/json`` (legacy clients): 200 whenever there is a GraphQL answer.

A request that is not a GraphQL request at all (not JSON, not an object, no query) gets a
GraphQL-shaped JSON body with ``extensions.code`` BAD_REQUEST and a 4xx status, so clients
handle every failure the same way. Queries run over GET and HEAD (only queries: a GET must not
change anything) and over POST; GET answers carry HTTP caching headers
(``app.web.http_caching``).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from app import graphiql, metrics
from app.errors import ErrorCode, Refusal, extension
from app.schema import SubgraphSchema
from app.schema.context import RequestContext
from app.schema.presenter import unknown_operation
from app.web.http_caching import HttpCaching, not_modified
from app.web.kept_answers import keeper_of
from app.web.media_types import GRAPHQL_RESPONSE, JSON, declares_json, encode, negotiate
from app.web.persisted_queries import (
    DocumentNotTrusted,
    PersistedQueryNotFound,
    PersistedQueryRefused,
)
from app.web.services import RequestContexts, services_of

ALLOWED_METHODS = "GET, HEAD, POST"


@dataclass(frozen=True)
class GraphQLParams:
    query: str | None
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None
    # A trusted document's id (the GraphQL-over-HTTP persisted-documents field).
    document_id: str | None = None


@dataclass(frozen=True)
class EndpointOptions:
    """How ``/graphql`` answers."""

    graphiql: bool
    # Add extensions.cost (the request's ledger) to each answer.
    cost_extension: bool
    # Let browsers keep GET answers to authenticated requests.
    http_cache_authenticated: bool
    # Whether requests carry credentials (answers then vary by them).
    authentication: bool
    # Largest response body; a larger answer is replaced by one RESPONSE_TOO_LARGE error.
    max_response_bytes: int

    def http_caching(self) -> HttpCaching:
        return HttpCaching(self.authentication, self.http_cache_authenticated)


class GraphQLEndpoint:
    """The ASGI app at ``/graphql``."""

    def __init__(
        self, schema: SubgraphSchema, contexts: RequestContexts, options: EndpointOptions
    ) -> None:
        self.schema = schema
        self.contexts = contexts
        self.options = options
        self.caching = options.http_caching()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self.respond(request)
        except Refusal as refusal:
            await refusal(scope, receive, send)
            return
        await response(scope, receive, send)

    async def respond(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD", "POST"):
            raise Refusal(
                405, "GraphQL runs over GET, HEAD and POST.", headers={"Allow": ALLOWED_METHODS}
            )
        if request.method != "POST" and not request.query_params and _wants_html(request):
            if not self.options.graphiql:
                raise Refusal(404, "GraphiQL is turned off on this service.")
            return graphiql_page()
        media_type = negotiate(request.headers.get("accept", ""))
        services = services_of(request)
        params = await read_params(request)
        context = self.contexts(request)
        context.log_fields["operationName"] = params.operation_name
        try:
            query, digest = await services.persisted.query_for(
                params.query, params.extensions, params.document_id
            )
        except PersistedQueryRefused as refusal:
            raise Refusal(400, str(refusal)) from None
        except DocumentNotTrusted as untrusted:
            raise Refusal(400, str(untrusted), ErrorCode.DOCUMENT_NOT_TRUSTED) from None
        except PersistedQueryNotFound as missing:
            context.log_fields["persistedQuery"] = str(missing)
            return self._response(request, _persisted_query_not_found(), media_type, 0.0)
        if digest is not None:
            context.log_fields["persistedQuery"] = digest
        if query is None:
            raise Refusal(400, "The request needs a `query`: a GraphQL document as a string.")
        registering = digest is not None and params.query is not None
        params = dataclasses.replace(params, query=query)
        ledger = context.ledger
        result = await self._execute(request.method, params, context)
        if registering and result.data is not None:
            # It ran, so it parsed, kept to the limits and passed validation: worth keeping.
            assert digest is not None
            await services.persisted.register(digest, query)
        plain = not result.errors and result.data is not None and not result.extensions
        first_code = (result.errors[0].extensions or {}).get("code") if result.errors else None
        metrics.graphql_request(params.operation_name, str(first_code or "ok"))
        if self.options.cost_extension:
            result.extensions = {**(result.extensions or {}), "cost": ledger.as_extension()}
        response = self._response(request, result, media_type, ledger.fresh_for)
        keeper = keeper_of(request.scope)
        # A registration is never kept: the next one must register again, should the text
        # have gone from the persisted store meanwhile.
        if keeper is not None and plain and not registering and response.status_code in (200, 304):
            if response.status_code == 200 and not self.options.cost_extension:
                body = bytes(response.body)
            else:
                body = encode({"data": result.data})
            await keeper.keep(body, params.operation_name, ledger.fresh_for)
        return response

    async def _execute(
        self, method: str, params: GraphQLParams, context: RequestContext
    ) -> ExecutionResult:
        try:
            return await self.schema.execute(
                params.query,
                variable_values=params.variables,
                context_value=context,
                operation_name=params.operation_name,
                allowed_operation_types=_allowed_operations(method),
                operation_extensions=params.extensions,
            )
        except InvalidOperationTypeError as error:
            raise Refusal(
                405, error.as_http_error_reason(method), headers={"Allow": "POST"}
            ) from None
        except CannotGetOperationTypeError:
            # Strawberry looks the named operation up before validation, and raises: answer as
            # validation does for a document without it.
            unknown = unknown_operation(params.operation_name)
            return ExecutionResult(data=None, errors=[unknown])
        except MissingQueryError:
            raise Refusal(400, "The request has no GraphQL query.") from None

    def _response(
        self, request: Request, result: ExecutionResult, media_type: str, fresh_for: float
    ) -> Response:
        """The HTTP answer, with its caching headers; 304 when the client has it already."""
        response = graphql_response(result, media_type)
        if len(response.body) > self.options.max_response_bytes:
            result = _too_large(len(response.body), self.options.max_response_bytes, result)
            response = graphql_response(result, media_type)
        ok = not result.errors and result.data is not None
        return self._with_http_caching(request, response, ok, fresh_for)

    def _with_http_caching(
        self, request: Request, response: Response, ok: bool, fresh_for: float
    ) -> Response:
        authenticated = "principal" in request.scope.get("state", {})
        body = bytes(response.body)
        caching = self.caching.headers(
            request.method, response.status_code, body, ok, fresh_for, authenticated
        )
        response.headers.update(caching)
        tag = caching.get("etag")
        if tag is not None and not_modified(request.headers.get("if-none-match"), tag):
            headers = {k: v for k, v in response.headers.items() if k != "content-length"}
            return Response(status_code=304, headers=headers)
        return response


def _persisted_query_not_found() -> ExecutionResult:
    # The message is Apollo's: clients match on it (and on the code) to send the query's text.
    error = GraphQLError(
        "PersistedQueryNotFound",
        extensions=extension(ErrorCode.PERSISTED_QUERY_NOT_FOUND),
    )
    return ExecutionResult(data=None, errors=[error])


def _too_large(size: int, max_bytes: int, result: ExecutionResult) -> ExecutionResult:
    """The answer instead of one over ``SMGQL_MAX_RESPONSE_BYTES``. The object and error budgets
    bound what an operation costs; this bounds what it sends (5,000 objects of every field are
    3 MB): like the object budget's refusal, it has no data."""
    return ExecutionResult(
        data=None, errors=[response_too_large(size, max_bytes)], extensions=result.extensions
    )


def response_too_large(size: int, max_bytes: int) -> GraphQLError:
    """The one error of an answer of ``size`` bytes, over the limit of ``max_bytes``."""
    return GraphQLError(
        f"The response would be {size} bytes; the limit is {max_bytes}. Ask for fewer fields, "
        "smaller pages (`first`) or fewer refs, and page through the rest.",
        extensions=extension(
            ErrorCode.RESPONSE_TOO_LARGE, responseBytes=size, maxResponseBytes=max_bytes
        ),
    )


def graphql_response(result: ExecutionResult, media_type: str) -> Response:
    """The HTTP response for an execution result, in ``media_type``.

    A request error (the document, its variables or its cost refused before execution) has no
    data and no error with a path; it has no ``data`` entry. An operation that ran has one,
    null when an error reached a non-null root field.
    """
    errors = result.errors or []
    request_error = result.data is None and not any(error.path for error in errors)
    body: dict[str, Any] = {}
    if errors:
        body["errors"] = [error.formatted for error in errors]
    if not request_error:
        body["data"] = result.data
    if result.extensions:
        body["extensions"] = result.extensions
    status = 400 if request_error and media_type == GRAPHQL_RESPONSE else 200
    return Response(encode(body), status_code=status, media_type=media_type)


async def read_params(request: Request) -> GraphQLParams:
    """The GraphQL request's parameters, each checked for its JSON type."""
    if request.method == "POST":
        if not declares_json(request.headers.get("content-type", "")):
            raise Refusal(415, f"POST a JSON body with Content-Type: {JSON}.")
        body = decode_json(await request.body(), "The request body")
        if not isinstance(body, dict):
            raise Refusal(400, "The request body must be a JSON object.")
        raw: Mapping[str, Any] = body
    else:
        query_params = request.query_params
        raw = {
            "query": query_params.get("query"),
            "operationName": query_params.get("operationName"),
            "variables": _json_parameter(query_params.get("variables"), "variables"),
            "extensions": _json_parameter(query_params.get("extensions"), "extensions"),
            "documentId": query_params.get("documentId"),
        }
    query = raw.get("query")
    if query is not None and (not isinstance(query, str) or not query):
        raise Refusal(400, "`query` must be a GraphQL document as a string.")
    operation_name = raw.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise Refusal(400, "`operationName` must be a string or null.")
    document_id = raw.get("documentId")
    if document_id is not None and (not isinstance(document_id, str) or not document_id):
        raise Refusal(400, "`documentId` must be a trusted document's id as a string.")
    return GraphQLParams(
        query=query,
        variables=_object_or_null(raw.get("variables"), "variables"),
        operation_name=operation_name or None,
        extensions=_object_or_null(raw.get("extensions"), "extensions"),
        document_id=document_id,
    )


def decode_json(data: bytes | str, what: str) -> Any:
    """JSON as the spec has it: UTF-8, no NaN or Infinity, numbers Python can hold, nesting
    Python can walk, text that UTF-8 can carry. Anything else is the client's error, not ours."""
    try:
        value = json.loads(data, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        # ValueError covers bad UTF-8, bad JSON and integers of thousands of digits.
        raise Refusal(400, f"{what} is not valid JSON.") from None
    if _may_hold_a_surrogate(data) and not _utf8(value):
        raise Refusal(
            400,
            f"{what} holds a lone surrogate (an escape from \\uD800 to \\uDFFF without its "
            "pair): no Unicode text can, so nothing could answer it.",
            ErrorCode.BAD_USER_INPUT,
        )
    return value


# The only way a lone surrogate gets into a request: as a JSON escape (UTF-8 cannot carry one).
# Paired escapes are ordinary text; the search only decides whether the answer needs a check.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_TEXT = re.compile(r"\\u[dD][89a-fA-F]")


def _may_hold_a_surrogate(data: bytes | str) -> bool:
    if isinstance(data, bytes):
        return _SURROGATE_ESCAPE.search(data) is not None
    return _SURROGATE_ESCAPE_TEXT.search(data) is not None


def _utf8(value: Any) -> bool:
    """Whether every string in ``value`` is text UTF-8 can carry."""
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json_parameter(raw: str | None, name: str) -> Any:
    return None if raw is None else decode_json(raw, f"The `{name}` parameter")


def _object_or_null(value: Any, name: str) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise Refusal(400, f"`{name}` must be a JSON object or null.")
    return value


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _allowed_operations(method: str) -> set[OperationType]:
    if method == "POST":
        return {OperationType.QUERY, OperationType.MUTATION}
    return {OperationType.QUERY}


def graphiql_page() -> Response:
    """GraphiQL, with headers that keep the page from being framed or sniffed and allow it to
    load nothing but this service's own bundles."""
    if graphiql.installed():
        return HTMLResponse(graphiql.page(), headers=graphiql.SECURITY_HEADERS)
    return HTMLResponse(graphiql.cdn_page())
