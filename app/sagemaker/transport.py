"""SageMaker on the wire, without a thread per call: botocore's serializer, SigV4 signer and
parser, over an asyncio connection pool (aiohttp).

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
import errno
import functools
import ssl
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp
import botocore
from aiohttp.client_proto import ResponseHandler
from aiohttp.connector import Connection
from botocore.awsrequest import create_request_object, prepare_request_dict
from botocore.credentials import Credentials, ReadOnlyCredentials, RefreshableCredentials
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.hooks import first_non_none_response
from botocore.httpsession import get_cert_path
from botocore.model import OperationModel
from botocore.parsers import ResponseParserError, ResponseParserFactory
from botocore.serialize import create_serializer
from botocore.utils import parse_timestamp

from app.sagemaker.signing import Signer

if TYPE_CHECKING:
    from aiohttp.tracing import Trace
    from mypy_boto3_sagemaker import SageMakerClient


class Answer:
    """What the retry handlers read of an HTTP answer (botocore's ``AWSResponse`` has more)."""

    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: Mapping[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content


class Transport:
    """Sends SageMaker operations and gives back botocore's parsed answer.

    The connection pool holds at most ``pool_size`` connections: a burst beyond waits for a free
    one, never for a timeout. A connection idle for ``idle_lifetime`` seconds by ``clock`` is
    closed rather than reused. The pool belongs to the event loop of its first call (aiohttp's
    sessions do), so a transport serves one loop; :meth:`aclose` closes it.
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
        self._user_agent = (
            f"sagemaker-images-graphql botocore/{botocore.__version__} "
            f"aiohttp/{aiohttp.__version__}"
        )
        self._max_attempts = max_attempts
        self._pool_size = pool_size
        self._idle_lifetime = idle_lifetime
        self._clock = clock
        # Calls beyond the pool wait here, first come first served. aiohttp's own pool limit
        # lets a newcomer take a just-freed connection ahead of those already waiting, which
        # under load left some calls waiting seconds.
        self._turns = asyncio.Semaphore(pool_size)
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout, sock_read=read_timeout
        )
        # Loading a CA bundle takes tens of milliseconds: here, off the event loop.
        self._ssl = _ssl_context(self._endpoint_url, ca_bundle)
        self._proxy = proxy_for(self._endpoint_url)
        self._http: aiohttp.ClientSession | None = None
        self._fresh_http: aiohttp.ClientSession | None = None

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
        for http in (self._http, self._fresh_http):
            if http is not None:
                await http.close()
        self._http = self._fresh_http = None
        if self._limiter_thread is not None:
            self._limiter_thread.shutdown(wait=False, cancel_futures=True)

    async def _attempt(
        self, model: OperationModel, request_dict: dict[str, Any]
    ) -> tuple[tuple[Answer, dict[str, Any]] | None, Exception | None]:
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

    async def _send(self, url: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """POST one request for an answer; a failure leaves as botocore's exception for it.

        A reused connection that dies before an answer's head arrived was most likely closed by
        the upstream while it idled: the request goes again at once on a fresh connection, as
        part of the same attempt (no retry spent, no backoff), and only a failure there counts.
        Every operation this service sends reads, so a request the upstream did get after all
        is harmless to send twice.
        """
        async with self._turns:
            try:
                return await self._exchange(self._pooled(), url, headers, body)
            except _ReusedConnectionDied:
                return await self._exchange(self._fresh(), url, headers, body)

    async def _exchange(
        self, http: aiohttp.ClientSession, url: str, headers: Mapping[str, str], body: bytes
    ) -> Answer:
        answering = False
        unused = _REUSED.set(False)
        try:
            async with http.post(url, headers=headers, data=body, proxy=self._proxy) as reply:
                answering = True
                return Answer(reply.status, reply.headers, await reply.read())
        except aiohttp.ClientError as error:
            if _REUSED.get() and not answering and _connection_died(error):
                raise _ReusedConnectionDied from error
            raise _as_botocore(error, url) from error
        finally:
            _REUSED.reset(unused)

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

    def _pooled(self) -> aiohttp.ClientSession:
        if self._http is None:
            pool = _IdleLimitedConnector(
                idle_lifetime=self._idle_lifetime,
                clock=self._clock,
                limit=self._pool_size,
                limit_per_host=0,
                ssl=self._ssl,
            )
            self._http = self._session_over(pool)
        return self._http

    def _fresh(self) -> aiohttp.ClientSession:
        """Where a request goes again when its pooled connection died: a connection of its own,
        closed after its answer (it is rarely needed, and the pool stays as it was)."""
        if self._fresh_http is None:
            connector = aiohttp.TCPConnector(force_close=True, limit=0, ssl=self._ssl)
            self._fresh_http = self._session_over(connector)
        return self._fresh_http

    def _session_over(self, connector: aiohttp.BaseConnector) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            # The signature covers the headers sent: aiohttp adds none of its own.
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
        )


class _IdleLimitedConnector(aiohttp.TCPConnector):
    """aiohttp's connection pool, where a connection that has idled ``idle_lifetime`` seconds by
    ``clock`` is closed when a request next asks for one, instead of being handed out.

    aiohttp's own keep-alive timer reads the real clock and only closes what it finds when it
    fires, so it is switched off: this check is the one that decides, at the moment of reuse.
    Between calls nothing is closed here; the upstream's keep-alive closes what idles on.
    """

    def __init__(self, *, idle_lifetime: float, clock: Callable[[], float], **options: Any) -> None:
        super().__init__(keepalive_timeout=None, **options)
        self._idle_lifetime = idle_lifetime
        self._clock = clock
        # When each connection went back to the pool, oldest first; a connection out of the
        # pool has no entry.
        self._idle_since: dict[ResponseHandler, float] = {}

    async def connect(
        self,
        req: aiohttp.ClientRequest,
        traces: list[Trace],
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 (aiohttp's signature)
    ) -> Connection:
        now = self._clock()
        for idle, since in list(self._idle_since.items()):
            if now - since >= self._idle_lifetime or not idle.is_connected():
                idle.close()
                del self._idle_since[idle]
        connection = await super().connect(req, traces, timeout)
        protocol = connection.protocol
        assert protocol is not None
        # A connection that went idle here before is one the pool handed out again.
        _REUSED.set(self._idle_since.pop(protocol, None) is not None)
        connection.add_callback(functools.partial(self._went_idle, protocol))
        return connection

    def _went_idle(self, protocol: ResponseHandler) -> None:
        # Also called when aiohttp closes the connection instead: the next connect drops it.
        self._idle_since[protocol] = self._clock()


# Whether the request being sent went out on a connection the pool handed out again: set by
# the pool as it hands one out, read by Transport._exchange when the request fails. aiohttp
# connects in the task that sends, within its context, so each request sees its own. (An
# aiohttp trace told this before; its signals, sent at every step of every request, cost about
# 2 % of a cache-off request's CPU.)
_REUSED: ContextVar[bool] = ContextVar("reused_connection", default=False)


class _ReusedConnectionDied(Exception):
    """A pooled connection died before an answer's head arrived: send again on a fresh one."""


def _connection_died(error: aiohttp.ClientError) -> bool:
    """Whether ``error`` says the connection itself was gone (the upstream's close, a reset, a
    broken pipe), rather than slow or answering something that is not HTTP. A request that
    could not be written is reported as a ``ClientOSError`` caused by the reset."""
    for reason in (error, error.__cause__):
        if isinstance(reason, aiohttp.ServerDisconnectedError | ConnectionResetError):
            return True
        if isinstance(reason, OSError) and reason.errno in (errno.ECONNRESET, errno.EPIPE):
            return True
    return False


def _as_botocore(error: aiohttp.ClientError, url: str) -> Exception:
    """The exception botocore raises for the failure aiohttp reported as ``error``."""
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return ConnectTimeoutError(endpoint_url=url, error=error)
    if isinstance(error, aiohttp.ServerTimeoutError):
        return ReadTimeoutError(endpoint_url=url, error=error)
    if isinstance(error, aiohttp.ClientConnectorError):
        return EndpointConnectionError(endpoint_url=url, error=error)
    if isinstance(
        error,
        aiohttp.ClientOSError
        | aiohttp.ClientConnectionResetError
        | aiohttp.ServerDisconnectedError
        | aiohttp.ClientPayloadError
        | aiohttp.ClientResponseError,
    ):
        # A dropped connection, a cut-off body or an answer that is not HTTP: what boto3
        # reports as ConnectionClosedError, which every retry mode retries.
        return ConnectionClosedError(endpoint_url=url, error=error)
    return HTTPClientError(error=error)


def _ssl_context(endpoint_url: str, ca_bundle: str | None) -> ssl.SSLContext | bool:
    """How to verify an HTTPS endpoint: against the CA bundle botocore would use
    (``AWS_CA_BUNDLE``, the config file, or certifi's)."""
    if not endpoint_url.startswith("https:"):
        return False
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
    as botocore would pick it, read once: aiohttp's ``trust_env`` reads it (and ``~/.netrc``)
    again on a thread for every request."""
    parts = urllib.parse.urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies().get(parts.scheme)
