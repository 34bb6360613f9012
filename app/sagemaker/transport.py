"""SageMaker on the wire, without a thread per call: botocore's serializer, SigV4 signer and
parser, over an asyncio connection pool of our own (:mod:`.http`).

boto3 sends on blocking sockets, so every call would hold a worker thread; measured on this
service, the hop to the thread, the GIL hand-overs and urllib3's pure-Python HTTP cost about
2.4 ms of CPU per call, against about 0.8 ms here (the README's "What a query costs").

Everything that decides *what* goes on the wire and what an answer means stays botocore's, taken
from a boto3 client built with the service's AWS options, so the service behaves as boto3 does:

* the request bytes (the service model's serializer) and the answer's parse, error codes included;
* the SigV4 signature, over credentials from boto3's default chain (computed by
  ``app.sagemaker.signing``, which signs exactly as botocore does, from plain values, at a
  tenth of the cost); refreshing credentials (IMDS, STS, SSO) blocks, so it runs on a thread,
  and only when botocore says it is due;
* the endpoint URL, and the retry mode with its decisions: the client's own ``needs-retry``
  handlers run on every answer, so standard, adaptive and legacy keep their retryable codes,
  backoff and retry quota; only the wait between attempts is ``asyncio.sleep`` here;
* the exceptions: an AWS error raises the client's modeled class (a ``ClientError``), and a failed
  exchange raises botocore's ``EndpointConnectionError``, ``ConnectTimeoutError``,
  ``ReadTimeoutError`` or ``ConnectionClosedError``, so :func:`app.sagemaker.errors.from_botocore`
  sorts them exactly as before.

A pooled connection must not outlive the upstream's keep-alive timeout (uvicorn's, the local
endpoint's, is 5 s): the upstream closes it, and a request sent as it does so, or before a busy
loop has read the close, dies unanswered. Such deaths used to spend botocore's retries (and
standard mode's retry quota), and when every attempt drew a dying connection the call failed as
unavailable. So a connection that has idled ``idle_lifetime`` seconds (below that timeout) is
closed instead of reused, and a request whose *reused* connection dies before an answer's head
arrived goes again at once on a fresh connection, inside the same attempt.

What botocore's other per-call hooks do is left out on purpose: parameter validation (keys are
checked where they are made), idempotency tokens (no call here takes one), and the Lambda
recursion-detection header.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import botocore
from botocore.awsrequest import create_request_object, prepare_request_dict
from botocore.credentials import Credentials, ReadOnlyCredentials, RefreshableCredentials
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.hooks import first_non_none_response
from botocore.httpsession import get_cert_path
from botocore.model import OperationModel
from botocore.parsers import ResponseParserError, ResponseParserFactory
from botocore.serialize import create_serializer
from botocore.utils import parse_timestamp

from app.sagemaker.http import (
    ConnectionLost,
    ConnectionPool,
    ConnectTimedOut,
    CouldNotConnect,
    HttpFailure,
    ReadTimedOut,
    Response,
)
from app.sagemaker.signing import Signer

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient


class Transport:
    """Sends SageMaker operations and gives back botocore's parsed answer.

    The connection pool holds at most ``pool_size`` connections: a burst beyond waits for a free
    one, never for a timeout. A connection idle for ``idle_lifetime`` seconds by ``clock`` is
    closed rather than reused. The pool belongs to the event loop of its first call, so a
    transport serves one loop; :meth:`aclose` closes it.
    """

    def __init__(
        self,
        client: SageMakerClient,
        credentials: Credentials | None,
        *,
        pool_size: int,
        connect_timeout: float,
        read_timeout: float,
        retry_mode: str,
        max_attempts: int,
        idle_lifetime: float,
        ca_bundle: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        model = client.meta.service_model
        protocol = model.resolved_protocol
        self._model = model
        self._serializer = create_serializer(protocol, include_validation=False)
        parsers = ResponseParserFactory()
        parsers.set_parser_defaults(timestamp_parser=utc_timestamp)
        self._parser = parsers.create_parser(protocol)
        self._endpoint_url = client.meta.endpoint_url
        self._signer = Signer(model.signing_name or model.endpoint_prefix, client.meta.region_name)
        self._events = client.meta.events
        self._exceptions = client.exceptions
        self._service_event = model.service_id.hyphenize()
        # Adaptive mode's client-side limiter blocks before each send while it waits for a
        # token. Its own thread keeps that wait off the loop's shared pool (DNS lookups and
        # credential refreshes run there), and one thread suits a token bucket: waiters queue,
        # and a cancelled call still queued never takes a token.
        self._limiter_thread = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="adaptive-retry")
            if retry_mode == "adaptive"
            else None
        )
        self._credentials = credentials
        self._frozen: ReadOnlyCredentials | None = None
        self._user_agent = f"sagemaker-images-graphql botocore/{botocore.__version__}"
        self._max_attempts = max_attempts
        proxy = proxy_for(self._endpoint_url)
        self._http = ConnectionPool(
            self._endpoint_url,
            size=pool_size,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            idle_lifetime=idle_lifetime,
            # Loading a CA bundle takes tens of milliseconds: here, off the event loop.
            ssl_context=_ssl_context(self._endpoint_url, proxy, ca_bundle),
            proxy=proxy,
            clock=clock,
        )

    async def call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """One operation, retried as the client's retry mode decides. Returns the parsed answer
        (with ``ResponseMetadata``) or raises what boto3 would have raised."""
        model = self._model.operation_model(operation)  # botocore caches it
        request_dict = self._serializer.serialize_to_request(params, model)
        prepare_request_dict(request_dict, self._endpoint_url, user_agent=self._user_agent)
        context = request_dict["context"]
        context["retries"] = {"invocation-id": str(uuid.uuid4()), "max": self._max_attempts}
        attempts = 1
        while True:
            context["retries"]["attempt"] = attempts
            answer, failure = await self._attempt(model, request_dict)
            delay = first_non_none_response(
                self._emit(
                    "needs-retry",
                    operation,
                    response=answer,
                    endpoint=None,
                    operation=model,
                    attempts=attempts,
                    caught_exception=failure,
                    request_dict=request_dict,
                )
            )
            if delay is None or delay is False:
                break
            await asyncio.sleep(delay)
            attempts += 1
        if failure is not None:
            raise failure
        assert answer is not None
        http, parsed = answer
        parsed.setdefault("ResponseMetadata", {})["RetryAttempts"] = attempts - 1
        self._emit(
            "after-call",
            operation,
            http_response=http,
            parsed=parsed,
            model=model,
            context=context,
        )
        if http.status_code >= 300:
            code = parsed.get("Error", {}).get("Code", "")
            # The modeled ClientError subclass, as boto3 raises it (the stubs call it an instance).
            modeled: Any = self._exceptions.from_code(code)
            raise modeled(parsed, operation)
        return parsed

    async def aclose(self) -> None:
        await self._http.aclose()
        if self._limiter_thread is not None:
            self._limiter_thread.shutdown(wait=False, cancel_futures=True)

    async def _attempt(
        self, model: OperationModel, request_dict: dict[str, Any]
    ) -> tuple[tuple[Response, dict[str, Any]] | None, Exception | None]:
        """One exchange: the answer and its parse, or the exception in its place (the retry
        handlers judge both)."""
        try:
            retries = request_dict["context"]["retries"]
            headers = {
                **request_dict["headers"],
                "amz-sdk-invocation-id": retries["invocation-id"],
                "amz-sdk-request": f"attempt={retries['attempt']}; max={retries['max']}",
            }
            url, body = request_dict["url"], request_dict["body"]
            credentials = await self._frozen_credentials()
            now = datetime.now(UTC).replace(tzinfo=None)
            headers = self._signer.sign(
                request_dict["method"], url, headers, body, credentials, now
            )
            if self._limiter_thread is not None:
                request = create_request_object({**request_dict, "headers": headers})
                await asyncio.get_running_loop().run_in_executor(
                    self._limiter_thread,
                    functools.partial(self._emit, "before-send", model.name, request=request),
                )
            answer = await self._send(url, headers, body)
        except Exception as error:
            return None, error
        response_dict = {
            "status_code": answer.status_code,
            "headers": answer.headers,
            "body": answer.content,
            "context": {"operation_name": model.name},
        }
        try:
            parsed = self._parser.parse(response_dict, model.output_shape)  # type: ignore[arg-type]
        except (ResponseParserError, ValueError) as error:
            # Bytes botocore cannot read (not UTF-8, say). A failed answer is judged by its
            # status alone (a 5xx is retried and ends as unavailable); a successful one is
            # an answer this service cannot use.
            if answer.status_code < 300:
                return None, ResponseParserError(f"unreadable answer: {type(error).__name__}")
            request_id = answer.headers.get("x-amzn-requestid", "")
            parsed = {
                "Error": {"Code": "", "Message": ""},
                "ResponseMetadata": {"RequestId": request_id},
            }
        parsed.setdefault("ResponseMetadata", {})["HTTPStatusCode"] = answer.status_code
        return (answer, parsed), None

    async def _send(self, url: str, headers: Mapping[str, str], body: bytes) -> Response:
        """POST one request for an answer; a failure leaves as botocore's exception for it.

        A reused connection that dies before an answer's head arrived was most likely closed by
        the upstream while it idled: the pool sends the request again at once on a fresh
        connection, as part of the same attempt (no retry spent, no backoff), and only a
        failure there counts. Every operation this service sends reads, so a request the
        upstream did get after all is harmless to send twice.
        """
        try:
            return await self._http.post(url, headers, body)
        except HttpFailure as failure:
            raise _as_botocore(failure, url) from failure

    async def _frozen_credentials(self) -> ReadOnlyCredentials:
        credentials = self._credentials
        if credentials is None:
            raise NoCredentialsError()
        frozen = self._frozen
        if frozen is None or (
            isinstance(credentials, RefreshableCredentials) and credentials.refresh_needed()
        ):
            frozen = await asyncio.to_thread(credentials.get_frozen_credentials)
            self._frozen = frozen
        return frozen

    def _emit(self, event: str, operation: str, /, **kwargs: Any) -> list[tuple[Any, Any]]:
        """Run the client's handlers for ``event`` on ``operation``, as botocore's endpoint
        would (with its keyword arguments, ``operation`` among them); their answers, in order."""
        answers: list[tuple[Any, Any]] = self._events.emit(
            f"{event}.{self._service_event}.{operation}", **kwargs
        )
        return answers


def _as_botocore(failure: HttpFailure, url: str) -> Exception:
    """The exception botocore raises for ``failure``."""
    if isinstance(failure, ConnectTimedOut):
        return ConnectTimeoutError(endpoint_url=url, error=failure)
    if isinstance(failure, ReadTimedOut):
        return ReadTimeoutError(endpoint_url=url, error=failure)
    if isinstance(failure, CouldNotConnect):
        return EndpointConnectionError(endpoint_url=url, error=failure)
    # A dropped connection, a cut-off body or an answer that is not HTTP: what boto3 reports as
    # ConnectionClosedError, which every retry mode retries.
    assert isinstance(failure, ConnectionLost)
    return ConnectionClosedError(endpoint_url=url, error=failure)


def _ssl_context(
    endpoint_url: str, proxy: str | None, ca_bundle: str | None
) -> ssl.SSLContext | None:
    """How to verify an HTTPS endpoint or proxy: against the CA bundle botocore would use
    (``AWS_CA_BUNDLE``, the config file, or certifi's). None when both are plain HTTP."""
    if not any(url.startswith("https:") for url in (endpoint_url, proxy or "")):
        return None
    return ssl.create_default_context(cafile=ca_bundle or get_cert_path(True))


def utc_timestamp(value: object) -> datetime:
    """A timestamp of an answer, in UTC. The JSON protocol sends epoch seconds, which botocore
    would put in the local zone through dateutil at some cost per value; anything else is
    parsed as botocore parses it."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    parsed: datetime = parse_timestamp(str(value))
    return parsed


def proxy_for(url: str) -> str | None:
    """The proxy for ``url`` from the environment (``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``),
    as botocore would pick and read it; the transport reads it once, when it is built."""
    parts = urllib.parse.urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy is None or "://" in proxy:
        return proxy
    # A proxy named without a scheme (HTTPS_PROXY=proxy.corp:3128, common in corporate
    # environments) is reached over plain HTTP, as botocore reads it.
    return "http:" + proxy if proxy.startswith("//") else "http://" + proxy
