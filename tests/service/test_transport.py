"""The asyncio transport to SageMaker, over real HTTP: its requests carry signatures AWS would
accept, and each of botocore's retry modes still decides when to retry.

Three tests here wait for real time to pass, because what they test is a real timer:
* test_a_connection_the_endpoint_closed_while_idle_is_not_reused: uvicorn's 5 s keep-alive
  timeout closing a pooled connection on a real socket (5.5 s);
* test_adaptive_modes_wait_for_a_token_stays_off_the_loops_shared_threads: botocore's adaptive
  token bucket, which blocks a thread in real time (the sends are given half a second to reach
  it);
* test_an_endpoint_that_never_answers_times_the_read_out: the transport's read timeout (0.2 s)
  on a real socket.

The transport's HTTP (app/sagemaker/http.py) is tested here too, on loopback: HTTPS verified
against a CA of the tests' own (tests/tls.py), proxies that record what they were asked, and the
ways an answer's body ends.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import socket
import ssl
import struct
import sys
import threading
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import pytest
import uvicorn
import uvloop
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from app.ledger import Ledger
from app.local_sagemaker.server import BackgroundEndpoint, EndpointOptions, LocalSageMaker
from app.sagemaker import (
    AccessDenied,
    ImageKey,
    ImagesPage,
    ImageVersionKey,
    ImageVersionsPage,
    SageMaker,
    Throttled,
    TimeBounds,
    Unavailable,
    UnexpectedAnswer,
    build_client,
    build_transport,
)
from app.sagemaker.client import LOCAL_CREDENTIALS
from app.sagemaker.http import CouldNotConnect
from app.sagemaker.operations import (
    DESCRIBE_IMAGE,
    DESCRIBE_IMAGE_VERSION,
    LIST_ALIASES,
    LIST_IMAGE_VERSIONS,
    LIST_IMAGES,
)
from app.sagemaker.transport import Transport
from app.server_thread import ServerThread
from tests.conftest import EndpointControl
from tests.fakes import FakeClock
from tests.service.conftest import TEST_SETTINGS
from tests.tls import LOOPBACK_NAMES, TestAuthority

RIGHT_SECRETS = {LOCAL_CREDENTIALS[0]: LOCAL_CREDENTIALS[1]}


@pytest.fixture
def checking_endpoint(request: pytest.FixtureRequest) -> Iterator[BackgroundEndpoint]:
    """An endpoint that checks SigV4 signatures against the secrets the test names."""
    secrets: Mapping[str, str] = getattr(request, "param", RIGHT_SECRETS)
    with BackgroundEndpoint(EndpointOptions(secrets=secrets)) as endpoint:
        yield endpoint


@asynccontextmanager
async def connected(
    url: str, clock: Callable[[], float] = time.monotonic, **settings: Any
) -> AsyncIterator[SageMaker]:
    options = dataclasses.replace(TEST_SETTINGS, endpoint_url=url, **settings).aws()
    aws = SageMaker(build_transport(options, TEST_SETTINGS.target_specs()[0], clock))
    try:
        yield aws
    finally:
        await aws.aclose()


@pytest.fixture
async def aws(checking_endpoint: BackgroundEndpoint) -> AsyncIterator[SageMaker]:
    async with connected(checking_endpoint.url) as connection:
        yield connection


async def test_every_call_carries_a_signature_aws_would_accept(aws: SageMaker) -> None:
    since = TimeBounds(created_after=datetime(2020, 1, 1, tzinfo=UTC))
    pinned = await aws.call(
        DESCRIBE_IMAGE_VERSION, ImageVersionKey("pytorch-training", 3), Ledger()
    )
    by_alias = await aws.call(
        DESCRIBE_IMAGE_VERSION, ImageVersionKey("pytorch-training", None, "stable"), Ledger()
    )
    latest = await aws.call(DESCRIBE_IMAGE_VERSION, ImageVersionKey("pytorch-training"), Ledger())
    image = await aws.call(DESCRIBE_IMAGE, ImageKey("pytorch-training"), Ledger())
    images = await aws.call(
        LIST_IMAGES,
        ImagesPage(
            sort_by="IMAGE_NAME", sort_order="ASCENDING", times=since, name_contains="torch-train"
        ),
        Ledger(),
    )
    versions = await aws.call(
        LIST_IMAGE_VERSIONS,
        ImageVersionsPage(
            sort_by="VERSION", sort_order="DESCENDING", image_name="pytorch-training"
        ),
        Ledger(),
    )
    aliases = await aws.call(LIST_ALIASES, ImageVersionKey("pytorch-training", 3), Ledger())
    await aws.check_reachable()
    assert (pinned.version, by_alias.version, latest.version) == (3, 3, 5)
    assert image.image_name == "pytorch-training"
    assert [i.image_name for i in images.items] == ["pytorch-training"]
    assert [v.version for v in versions.items][:2] == [5, 4]
    assert "stable" in aliases


def test_the_check_agrees_with_boto3s_own_signer(checking_endpoint: BackgroundEndpoint) -> None:
    # A control: boto3's whole client passes the same check, so the check is AWS's, not ours.
    settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=checking_endpoint.url)
    client = build_client(settings.aws(), settings.target_specs()[0].region)
    answer = client.describe_image_version(ImageName="pytorch-training", Version=3)
    assert answer["Version"] == 3


@pytest.mark.parametrize(
    ("checking_endpoint", "aws_code"),
    [
        ({LOCAL_CREDENTIALS[0]: "another-secret"}, "InvalidSignatureException"),
        ({"another-key": LOCAL_CREDENTIALS[1]}, "UnrecognizedClientException"),
    ],
    indirect=["checking_endpoint"],
)
async def test_a_signature_made_with_other_credentials_is_refused(
    aws: SageMaker, aws_code: str
) -> None:
    with pytest.raises(AccessDenied) as refused:
        await aws.call(DESCRIBE_IMAGE_VERSION, ImageVersionKey("pytorch-training", 3), Ledger())
    assert refused.value.aws_code == aws_code


@pytest.mark.parametrize("mode", ["standard", "adaptive", "legacy"])
async def test_each_retry_mode_retries_throttling_up_to_its_attempts(
    mode: str, endpoint: BackgroundEndpoint, control: EndpointControl
) -> None:
    control.set_faults(throttleRate=1)
    async with connected(endpoint.url, retry_mode=mode, max_attempts=3) as aws:
        with pytest.raises(Throttled) as throttled:
            await aws.call(DESCRIBE_IMAGE_VERSION, ImageVersionKey("pytorch-training", 3), Ledger())
    assert throttled.value.aws_code == "ThrottlingException"
    assert control.calls("DescribeImageVersion") == 3


@pytest.mark.parametrize("checking_endpoint", [{"fresh": "fresh-secret"}], indirect=True)
async def test_credentials_due_for_a_refresh_are_refreshed_off_the_event_loop(
    checking_endpoint: BackgroundEndpoint,
) -> None:
    refreshed_on: list[threading.Thread] = []

    def refresh() -> dict[str, Any]:
        refreshed_on.append(threading.current_thread())
        return {
            "access_key": "fresh",
            "secret_key": "fresh-secret",
            "token": None,
            "expiry_time": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        }

    # Expiring within botocore's mandatory refresh window, so the next call must refresh first.
    expiring = RefreshableCredentials.create_from_metadata(
        {**refresh(), "access_key": "stale", "expiry_time": datetime.now(UTC).isoformat()},
        refresh_using=refresh,
        method="test",
    )
    refreshed_on.clear()
    settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=checking_endpoint.url)
    transport = Transport(
        build_client(settings.aws(), settings.target_specs()[0].region),
        expiring,
        pool_size=2,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        retry_mode=settings.retry_mode,
        max_attempts=1,
        idle_lifetime=settings.pool_idle_seconds,
    )
    aws = SageMaker(transport)
    try:
        found = await aws.call(
            DESCRIBE_IMAGE_VERSION, ImageVersionKey("pytorch-training", 3), Ledger()
        )
    finally:
        await aws.aclose()
    assert found.version == 3
    assert len(refreshed_on) == 1
    assert refreshed_on[0] is not threading.main_thread()


async def test_a_connection_the_endpoint_closed_while_idle_is_not_reused(
    endpoint: BackgroundEndpoint,
) -> None:
    # uvicorn closes a keep-alive connection after 5 idle seconds. The loop is held meanwhile,
    # as a busy service's loop may be when the close arrives, so the client has not read it
    # when the next calls take the connections (several at once: some find the close while
    # writing, which reports it differently from a close read after). The idle lifetime is
    # out of the way (60 s), and one attempt leaves no retry to hide a reused dead connection.
    key = ImageVersionKey("pytorch-training", 3)
    async with connected(endpoint.url, max_attempts=1, pool_idle_seconds=60) as aws:
        await asyncio.gather(*(aws.call(DESCRIBE_IMAGE_VERSION, key, Ledger()) for _ in range(4)))
        time.sleep(5.5)  # noqa: ASYNC251 (holding the loop is the point)
        found = await asyncio.gather(
            *(aws.call(DESCRIBE_IMAGE_VERSION, key, Ledger()) for _ in range(4))
        )
    assert [version.version for version in found] == [3] * 4


VERSION_ANSWER = json.dumps(
    {
        "ImageVersionArn": "arn:aws:sagemaker:us-east-1:local:image-version/pytorch-training/3",
        "ImageArn": "arn:aws:sagemaker:us-east-1:local:image/pytorch-training",
        "Version": 3,
        "ImageVersionStatus": "CREATED",
        "CreationTime": 1700000000,
        "LastModifiedTime": 1700000000,
    }
).encode()


async def read_request(reader: asyncio.StreamReader) -> None:
    """Read one HTTP request (its head and its Content-Length body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.lower().split(b"\r\n")
        if line.startswith(b"content-length:")
    )
    await reader.readexactly(length)


class LoopbackServer:
    """A server on loopback for one test, each connection handed to :meth:`_serve`: ``async
    with`` starts it and gives its address, ``prefix`` then ``127.0.0.1:port``; with
    ``_tls``, it serves over TLS."""

    prefix = "http://"
    _tls: ssl.SSLContext | None = None

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self._tls)
        port = self._server.sockets[0].getsockname()[1]
        return f"{self.prefix}127.0.0.1:{port}"

    async def __aexit__(self, *exc_info: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


class KeepAliveServer(LoopbackServer):
    """A raw HTTP/1.1 server on loopback that answers every request with a version and keeps
    the connection open, counting the connections it accepted.

    With ``expiring``, a connection's keep-alive runs out just as its second request arrives
    (the race an upstream's keep-alive timer runs with a client reusing the connection): it is
    closed unanswered, with the end of the stream (``"eof"``) or a reset (``"reset"``)."""

    def __init__(self, expiring: Literal["eof", "reset"] | None = None) -> None:
        self.expiring = expiring
        self.connections = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        answered = 0
        while True:
            try:
                await read_request(reader)
            except asyncio.IncompleteReadError:
                break  # the client closed the connection
            if self.expiring and answered:
                if self.expiring == "reset":
                    # No lingering on close: the kernel resets the connection.
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                break
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n"
                + f"Content-Length: {len(VERSION_ANSWER)}\r\n\r\n".encode()
                + VERSION_ANSWER
            )
            await writer.drain()
            answered += 1
        writer.close()


@pytest.mark.parametrize("ending", ["eof", "reset"])
async def test_a_pooled_connection_closed_as_it_is_reused_costs_no_attempt(
    ending: Literal["eof", "reset"],
) -> None:
    # Three pooled connections, each closed by the upstream as the next request on it arrives.
    # Each of three attempts drew one of them, and the call ended unavailable; now the request
    # goes again at once on a fresh connection, and no retry (nor retry quota) is spent.
    server = KeepAliveServer(expiring=ending)
    key = ImageVersionKey("pytorch-training", 3)
    async with server as url, connected(url, max_attempts=3) as aws:
        await asyncio.gather(*(aws.call(DESCRIBE_IMAGE_VERSION, key, Ledger()) for _ in range(3)))
        assert server.connections == 3
        ledger = Ledger()
        found = await aws.call(DESCRIBE_IMAGE_VERSION, key, ledger)
    assert found.version == 3
    assert ledger.retries == 0
    assert server.connections == 4


async def test_a_connection_idle_for_its_lifetime_is_closed_instead_of_reused() -> None:
    clock = FakeClock()
    server = KeepAliveServer()
    key = ImageVersionKey("pytorch-training", 3)
    async with server as url, connected(url, clock, pool_idle_seconds=4) as aws:
        await aws.call(DESCRIBE_IMAGE_VERSION, key, Ledger())
        clock.advance(3.9)
        await aws.call(DESCRIBE_IMAGE_VERSION, key, Ledger())
        assert server.connections == 1
        clock.advance(4)
        await aws.call(DESCRIBE_IMAGE_VERSION, key, Ledger())
    assert server.connections == 2


async def test_the_pool_opens_no_more_connections_than_its_size() -> None:
    server = KeepAliveServer()
    key = ImageVersionKey("pytorch-training", 3)
    async with server as url, connected(url, pool_size=2) as aws:
        found = await asyncio.gather(
            *(aws.call(DESCRIBE_IMAGE_VERSION, key, Ledger()) for _ in range(6))
        )
    assert [version.version for version in found] == [3] * 6
    assert server.connections == 2


class Misbehaving(LoopbackServer):
    """A raw TCP server on loopback that answers every request with ``reply`` and hangs up,
    counting the requests it read; with no ``reply``, it never answers (it waits for the
    client to leave)."""

    def __init__(self, reply: bytes | None, drip: float = 0.0) -> None:
        """With ``drip``, the reply goes in four parts, that many seconds apart."""
        self.reply = reply
        self.drip = drip
        self.requests = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        self.requests += 1
        if self.reply is None:
            await reader.read()
        elif self.drip:
            quarter = -(-len(self.reply) // 4)
            for start in range(0, len(self.reply), quarter):
                if start:
                    await asyncio.sleep(self.drip)
                writer.write(self.reply[start : start + quarter])
                await writer.drain()
        else:
            writer.write(self.reply)
            await writer.drain()
        writer.close()


@pytest.mark.parametrize("mode", ["standard", "legacy"])
@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(b"NOT HTTP AT ALL\r\n\r\n", id="not-http"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n" + b'{"ImageName"', id="cut-off"
        ),
    ],
)
async def test_an_answer_that_is_not_whole_http_is_retried_as_boto3_retries_it(
    mode: str, reply: bytes
) -> None:
    # boto3 calls both a dropped connection (ConnectionClosedError), which every mode retries.
    server = Misbehaving(reply)
    async with server as url, connected(url, retry_mode=mode, max_attempts=3) as aws:
        with pytest.raises(Unavailable):
            await aws.call(DESCRIBE_IMAGE_VERSION, ImageVersionKey("pytorch-training", 3), Ledger())
    assert server.requests == 3


def threads_waiting_for_a_token() -> list[str]:
    """The names of the threads now blocked in botocore's token bucket (adaptive mode)."""
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    waiting = []
    for ident, frame in sys._current_frames().items():
        stack = traceback.extract_stack(frame)
        if any(entry.filename.endswith("retries/bucket.py") for entry in stack):
            waiting.append(names.get(ident, "?"))
    return waiting


async def test_adaptive_modes_wait_for_a_token_stays_off_the_loops_shared_threads(
    endpoint: BackgroundEndpoint, control: EndpointControl
) -> None:
    # Throttling switches adaptive mode's client-side limiter on, at a low rate: later sends
    # wait for a token, in a blocking call. Those waits must not occupy the loop's default
    # thread pool, which DNS lookups and credential refreshes need.
    control.set_faults(throttleRate=1)
    async with connected(endpoint.url, retry_mode="adaptive", max_attempts=3) as aws:
        with pytest.raises(Throttled):
            await aws.call(DESCRIBE_IMAGE_VERSION, ImageVersionKey("pytorch-training", 3), Ledger())
        key = ImageVersionKey("pytorch-training", 3)
        calls = [
            asyncio.ensure_future(aws.call(DESCRIBE_IMAGE_VERSION, key, Ledger()))
            for _ in range(20)
        ]
        await asyncio.sleep(0.5)
        waiting = threads_waiting_for_a_token()
        for call in calls:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
    assert waiting, "the limiter never made a send wait: the test proves nothing"
    assert all(name.startswith("adaptive-retry") for name in waiting), waiting


@pytest.mark.parametrize(
    ("status", "error", "requests"),
    [("503 Service Unavailable", Unavailable, 3), ("200 OK", UnexpectedAnswer, 1)],
)
async def test_an_answer_botocore_cannot_read_is_judged_by_its_status(
    status: str, error: type[Exception], requests: int
) -> None:
    # Not UTF-8: botocore's parser raises on it, which was a bug (500) to the client before.
    server = Misbehaving(f"HTTP/1.1 {status}\r\nContent-Length: 2\r\n\r\n".encode() + b"\xff\xfe")
    async with server as url, connected(url, max_attempts=3) as aws:
        with pytest.raises(error):
            await aws.call(DESCRIBE_IMAGE_VERSION, ImageVersionKey("pytorch-training", 3), Ledger())
    assert server.requests == requests


async def test_calls_beyond_the_pool_are_served_in_turn(endpoint: BackgroundEndpoint) -> None:
    # Four clients, each calling again as soon as its call returns, share one connection. Served
    # in turn, they alternate; a pool without turns (aiohttp's) let the client that just finished
    # take the connection back ahead of those waiting, and the others starved (0000000000111...).
    served: list[int] = []

    async def client(aws: SageMaker, number: int) -> None:
        for _ in range(10):
            await aws.call(DESCRIBE_IMAGE_VERSION, ImageVersionKey("pytorch-training", 3), Ledger())
            served.append(number)

    async with connected(endpoint.url, pool_size=1) as aws:
        await asyncio.gather(*(client(aws, number) for number in range(4)))
    assert served == [0, 1, 2, 3] * 10


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy and no CA bundle from the test run's environment: a test sets its own."""
    for name in (*PROXY_VARIABLES, "AWS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy")


@pytest.fixture
def authority(tmp_path: Path) -> TestAuthority:
    return TestAuthority(tmp_path)


@asynccontextmanager
async def transport_to(url: str, **settings: Any) -> AsyncIterator[Transport]:
    """The transport to ``url`` as the service builds it (proxy and CA bundle from the
    environment), with one attempt: a failure is the exchange's, as botocore names it."""
    options = dataclasses.replace(TEST_SETTINGS, endpoint_url=url, max_attempts=1, **settings).aws()
    transport = build_transport(options, TEST_SETTINGS.target_specs()[0])
    try:
        yield transport
    finally:
        await transport.aclose()


async def describe(transport: Transport) -> dict[str, Any]:
    return await transport.call(
        "DescribeImageVersion", {"ImageName": "pytorch-training", "Version": 3}
    )


@contextmanager
def https_endpoint(certificate: tuple[Path, Path]) -> Iterator[str]:
    """A local endpoint that checks signatures, served over HTTPS with ``certificate`` (the
    paths of the certificate and its key); its URL."""
    local = LocalSageMaker(EndpointOptions(secrets=RIGHT_SECRETS))
    certificate_file, key_file = certificate
    config = uvicorn.Config(
        local.app,
        host="127.0.0.1",
        port=0,
        lifespan="off",
        log_config=None,
        access_log=False,
        ssl_certfile=str(certificate_file),
        ssl_keyfile=str(key_file),
    )
    server = ServerThread(config, quiet=True)
    port = server.start().rsplit(":", 1)[1]
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        server.stop()
        local.catalogs.close()


class RecordingProxy(LoopbackServer):
    """A forward proxy on loopback (over TLS with ``certificate``) that records the head of the
    first request on each connection: ``CONNECT`` opens a tunnel to the host and port it names;
    any other request goes on, as it came, to the host its absolute-form target names."""

    # Its address goes into a proxy URL, after the scheme and the credentials.
    prefix = ""

    def __init__(self, certificate: tuple[Path, Path] | None = None) -> None:
        self.heads: list[str] = []
        if certificate is not None:
            self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._tls.load_cert_chain(*certificate)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        self.heads.append(head.decode("latin-1"))
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ")
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            upstream_reader, upstream = await asyncio.open_connection(host, int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            named = urlsplit(target)
            upstream_reader, upstream = await asyncio.open_connection(named.hostname, named.port)
            upstream.write(head)
        await asyncio.gather(relay(reader, upstream), relay(upstream_reader, writer))


async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Bytes from ``reader`` to ``writer`` until either side ends."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


# In a proxy's URL, percent-encoded; on the wire, Basic credentials of the decoded values.
PROXY_CREDENTIALS = "smgql:p%40ss%20word"
PROXY_AUTHORIZATION = f"Basic {base64.b64encode(b'smgql:p@ss word').decode()}"


async def test_an_https_endpoint_is_verified_against_the_ca_bundle(
    authority: TestAuthority, environment: pytest.MonkeyPatch
) -> None:
    environment.setenv("AWS_CA_BUNDLE", str(authority.ca_file))
    with https_endpoint(authority.issue()) as url:
        async with transport_to(url) as transport:
            answer = await describe(transport)
    assert answer["Version"] == 3


@pytest.mark.parametrize("mismatch", ["authority", "host name"])
async def test_an_endpoint_whose_certificate_fails_verification_is_not_reached(
    mismatch: str, authority: TestAuthority, environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Signed by a CA the bundle does not hold, or for another host: no answer is read.
    trusted = TestAuthority(tmp_path, "another CA") if mismatch == "authority" else authority
    names = ("elsewhere.test",) if mismatch == "host name" else LOOPBACK_NAMES
    environment.setenv("AWS_CA_BUNDLE", str(trusted.ca_file))
    with https_endpoint(authority.issue(names)) as url:
        async with transport_to(url) as transport:
            with pytest.raises(EndpointConnectionError) as refused:
                await describe(transport)
    assert isinstance(refused.value.__cause__, CouldNotConnect)
    assert isinstance(refused.value.__cause__.__cause__, ssl.SSLCertVerificationError)


async def test_a_closed_port_is_an_endpoint_connection_error() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    async with transport_to(f"http://127.0.0.1:{port}") as transport:
        with pytest.raises(EndpointConnectionError):
            await describe(transport)


# Named without a scheme, a proxy is plain HTTP, as botocore reads it.
@pytest.mark.parametrize("scheme", ["http://", ""], ids=["with a scheme", "without one"])
async def test_an_http_endpoint_through_a_proxy_gets_absolute_form_requests(
    scheme: str, checking_endpoint: BackgroundEndpoint, environment: pytest.MonkeyPatch
) -> None:
    proxy = RecordingProxy()
    async with proxy as address:
        environment.setenv("HTTP_PROXY", f"{scheme}{PROXY_CREDENTIALS}@{address}")
        async with transport_to(checking_endpoint.url) as transport:
            answer = await describe(transport)
    assert answer["Version"] == 3  # the endpoint checked the signature
    request_line, *lines = proxy.heads[0].rstrip().split("\r\n")
    assert request_line == f"POST {checking_endpoint.url}/ HTTP/1.1"
    headers = dict(line.split(": ", 1) for line in lines)
    assert headers["Proxy-Authorization"] == PROXY_AUTHORIZATION
    # Nothing beyond what botocore and the signer made, Host, Content-Length and the proxy's.
    assert set(headers) == {
        "Host",
        "Content-Type",
        "X-Amz-Target",
        "User-Agent",
        "amz-sdk-invocation-id",
        "amz-sdk-request",
        "X-Amz-Date",
        "Authorization",
        "Proxy-Authorization",
        "Content-Length",
    }
    assert headers["Host"] == checking_endpoint.url.removeprefix("http://")


@pytest.mark.parametrize("proxy_scheme", ["http", "https"])
async def test_an_https_endpoint_through_a_proxy_is_reached_through_a_tunnel(
    proxy_scheme: str, authority: TestAuthority, environment: pytest.MonkeyPatch
) -> None:
    environment.setenv("AWS_CA_BUNDLE", str(authority.ca_file))
    proxy = RecordingProxy(authority.issue() if proxy_scheme == "https" else None)
    with https_endpoint(authority.issue()) as url:
        async with proxy as address:
            environment.setenv("HTTPS_PROXY", f"{proxy_scheme}://{PROXY_CREDENTIALS}@{address}")
            async with transport_to(url) as transport:
                answer = await describe(transport)
    assert answer["Version"] == 3  # TLS with the endpoint, which checked the signature
    target = url.removeprefix("https://")
    assert proxy.heads == [
        f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
        f"Proxy-Authorization: {PROXY_AUTHORIZATION}\r\n\r\n"
    ]


def chunked(body: bytes, *parts: int) -> bytes:
    """``body`` in chunks of the sizes given, and the rest."""
    chunks, start = [], 0
    for end in (*parts, len(body)):
        chunks.append(f"{end - start:x}\r\n".encode() + body[start:end] + b"\r\n")
        start = end
    return b"".join(chunks)


JSON_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n"


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(
            JSON_HEAD
            + b"Transfer-Encoding: chunked\r\n\r\n"
            + chunked(VERSION_ANSWER, 1, 40)
            + b"0\r\n\r\n",
            id="chunked",
        ),
        pytest.param(JSON_HEAD + b"Connection: close\r\n\r\n" + VERSION_ANSWER, id="to-the-close"),
    ],
)
async def test_an_answers_body_is_read_whole_however_it_is_delimited(reply: bytes) -> None:
    server = Misbehaving(reply)
    async with server as url, transport_to(url) as transport:
        answer = await describe(transport)
    sent = json.loads(VERSION_ANSWER)
    assert {name: answer[name] for name in ("ImageVersionArn", "ImageArn", "Version")} == {
        name: sent[name] for name in ("ImageVersionArn", "ImageArn", "Version")
    }


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(b"", id="no-answer"),
        pytest.param(b"NOT HTTP AT ALL\r\n\r\n", id="not-http"),
        pytest.param(JSON_HEAD + b"Content-Length: 200\r\n\r\n" + b'{"ImageName"', id="cut-off"),
        pytest.param(
            JSON_HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(VERSION_ANSWER, 40),
            id="cut-off-chunked",
        ),
    ],
)
async def test_an_answer_that_is_not_whole_http_is_a_closed_connection(reply: bytes) -> None:
    # A new connection that dies unanswered is not sent again: only a reused one is.
    server = Misbehaving(reply)
    async with server as url, transport_to(url) as transport:
        with pytest.raises(ConnectionClosedError):
            await describe(transport)
    assert server.requests == 1


async def test_an_endpoint_that_never_answers_times_the_read_out() -> None:
    server = Misbehaving(None)
    async with server as url, transport_to(url, read_timeout=0.2) as transport:
        started = time.monotonic()
        with pytest.raises(ReadTimeoutError):
            await describe(transport)
        waited = time.monotonic() - started
    assert 0.2 <= waited < 2


async def test_the_read_timeout_bounds_each_wait_for_bytes_not_the_whole_answer() -> None:
    # Four parts 0.2 s apart: 0.6 s in all, longer than the timeout, but no wait as long.
    reply = JSON_HEAD + f"Content-Length: {len(VERSION_ANSWER)}\r\n\r\n".encode()
    server = Misbehaving(reply + VERSION_ANSWER, drip=0.2)
    async with server as url, transport_to(url, read_timeout=0.5) as transport:
        started = time.monotonic()
        answer = await describe(transport)
        waited = time.monotonic() - started
    assert answer["Version"] == 3
    assert waited > 0.5


def test_the_transport_works_on_uvloop_the_loop_the_service_serves_on(
    authority: TestAuthority, environment: pytest.MonkeyPatch
) -> None:
    # uvloop's transports are not asyncio.Transport's subclasses, and its TLS is its own: one
    # call over TLS inside a proxy's tunnel, on a loop of its own.
    environment.setenv("AWS_CA_BUNDLE", str(authority.ca_file))
    proxy = RecordingProxy()

    async def call_through_the_proxy(url: str) -> dict[str, Any]:
        async with proxy as address:
            environment.setenv("HTTPS_PROXY", f"http://{address}")
            async with transport_to(url) as transport:
                return await describe(transport)

    with (
        https_endpoint(authority.issue()) as url,
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        answer = runner.run(call_through_the_proxy(url))
    assert answer["Version"] == 3
    assert proxy.heads[0].startswith("CONNECT ")
