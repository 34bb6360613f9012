"""Property-based fuzzing of subscriptions over WebSocket (graphql-transport-ws), against the
service as uvicorn serves it on a real socket, with authentication on: whatever frames clients
send, on one socket or on a few at once, the server

* closes a socket only with a code the WebSocket protocol, graphql-transport-ws or the service
  defines (never 1011, an internal error), and with a reason that shows nothing of its internals;
* sends only JSON text messages of the types a server may send, each for an operation the client
  started, every error coded with one of the README's codes (never INTERNAL_SERVER_ERROR);
* refuses a handshake only with the coded 503 of a full house;
* answers a ping within ``REQUEST_TIMEOUT_SECONDS``, goes on answering ``/healthz``, and logs no
  error (an uncaught exception is one).

Inputs: sequences of frames, mostly well-formed (connection_init with a valid credential or
not, ping, pong, subscribe with the README's queries, subscriptions, queries generated from the
schema or token soup, and arbitrary variables, complete, ids used twice, subscribe before init,
init twice) and now and then not (any JSON, members of the wrong type, unknown types, binary
frames, text frames that are not UTF-8, lone surrogates, nesting deeper than the recursion limit,
strings just under and over the message size limit). Examples are derandomized and nothing is
saved to hypothesis's example database, as in ``test_fuzz``.

No example waits on a timer: each socket completes its endless subscriptions, reads until its
other operations have ended, then pings, and the pong tells that the server has read every frame
before it. Each defect this fuzz found has a test of its own, in its smallest form, at the end
of the module.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import hypothesis_graphql
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis_graphql import Mode
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.http11 import Response
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from app.assembly.build import create_app
from app.errors import ErrorCode
from app.local_sagemaker.faults import FaultPlan
from app.local_sagemaker.server import BackgroundEndpoint
from app.server_thread import ServerThread
from app.web.server import ServiceConfig
from tests.fuzz.conftest import REQUEST_TIMEOUT_SECONDS
from tests.fuzz.test_fuzz import (
    ALLOWED_CODES,
    CUSTOM_SCALARS,
    FUZZ,
    JSON_TEXT,
    LEAKS,
    NAMES,
    SDL,
    TEXT,
    mostly,
    operations_with_variables,
    token_soup,
)
from tests.issuer import AUDIENCE, ISSUER, Issuer
from tests.service.conftest import TEST_SETTINGS

# The big inputs are the point; hypothesis need not warn that their reprs are big.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

GRAPHQL_WS = Subprotocol("graphql-transport-ws")
API_KEY = "fuzz-key"
# Few, so that the fuzz reaches the handshake's 503 and the per-connection limit.
MAX_WEBSOCKETS = 2
MAX_SUBSCRIPTIONS_PER_CONNECTION = 2
MAX_MESSAGE_BYTES = TEST_SETTINGS.max_body_bytes

# The close codes a client may see: the WebSocket protocol's (1000 normal or idle, 1007 a text
# frame that is not UTF-8, 1009 a message over the size limit) and graphql-transport-ws's (4400
# a message outside the protocol, 4401 subscribe before the ack, 4403 forbidden, 4408 no init in
# time, 4409 an id already running, 4429 init twice). Deliberately absent: 1011, the server's
# own failure.
CLOSE_CODES = frozenset({1000, 1007, 1009, 4400, 4401, 4403, 4408, 4409, 4429})
# The message types a server sends in graphql-transport-ws.
SERVER_TYPES = frozenset({"connection_ack", "pong", "next", "error", "complete"})
# The codes an operation's errors may carry: those of HTTP, and the subscription limits'.
ERROR_CODES = ALLOWED_CODES | {ErrorCode.TOO_MANY_SUBSCRIPTIONS.value}
# The logs checked for errors: every logger's records reach the root.
ROOT_LOG = logging.getLogger()


class ErrorRecords(logging.Handler):
    """Keeps the records at ERROR and above that the process logs: uvicorn's "Exception in
    ASGI application", strawberry's "Exception in worker task", asyncio's "Task exception was
    never retrieved", the presenter's unexpected errors."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        # The clients' own library runs in this process too; what it logs is not the server's.
        if not record.name.startswith("websockets.client"):
            with self._lock:
                self.records.append(record)

    def take(self) -> list[logging.LogRecord]:
        with self._lock:
            taken, self.records = self.records, []
        return taken


def _shown(record: logging.LogRecord) -> str:
    error = logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
    return f"{record.name}: {record.getMessage()}\n{error}".strip()


@dataclasses.dataclass(frozen=True)
class LiveService:
    url: str
    jwt: str
    http: httpx.Client
    errors: ErrorRecords

    def logged(self) -> list[logging.LogRecord]:
        """The errors logged since the last call, once ``/healthz`` has answered: the server
        logs what a socket's end costs it before it serves the next request."""
        health = self.http.get("/healthz")
        assert health.status_code == 200, f"/healthz answered {health.status_code}: {health.text}"
        return self.errors.take()


@pytest.fixture(scope="module")
def live_service(
    shared_endpoint: BackgroundEndpoint, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveService]:
    """The service on a real socket, started once for every example of the module (as
    ``fuzz_service`` is), with API keys and JWTs both accepted."""
    shared_endpoint.endpoint.faults.configure(FaultPlan())
    folder = tmp_path_factory.mktemp("websocket-fuzz")
    keys = folder / "keys"
    keys.write_text(f"{API_KEY}\n")
    issuer = Issuer.in_folder(folder)
    service_settings = dataclasses.replace(
        TEST_SETTINGS,
        endpoint_url=shared_endpoint.url,
        api_keys_file=str(keys),
        jwks_file=str(issuer.jwks_file),
        jwt_audience=AUDIENCE,
        jwt_issuer=ISSUER,
        max_websockets=MAX_WEBSOCKETS,
        max_subscriptions_per_connection=MAX_SUBSCRIPTIONS_PER_CONNECTION,
    )
    errors = ErrorRecords()
    ROOT_LOG.addHandler(errors)
    server = ServerThread(
        ServiceConfig(create_app(service_settings), service_settings.server(), port=0)
    )
    url = server.start()
    try:
        with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_SECONDS) as http:
            yield LiveService(url, issuer.token(exp=time.time() + 3600), http, errors)
    finally:
        server.stop()
        ROOT_LOG.removeHandler(errors)


# ---------------------------------------------------------------------------------------------
# Frames


@dataclasses.dataclass(frozen=True)
class Frame:
    """A WebSocket message a client sends: text (``data`` as str, or bytes that may not be
    UTF-8) or binary."""

    data: str | bytes
    text: bool = True
    # A subscribe to a version that never settles: the operation runs until it is completed.
    endless: bool = False

    def __repr__(self) -> str:
        shown = repr(self.data)
        kind = "text" if self.text else "binary"
        return f"<{kind} {shown if len(shown) <= 300 else shown[:300] + '...'}>"


def _message(**members: Any) -> Frame:
    return Frame(json.dumps(members, ensure_ascii=False))


def _raw_message(**members: str) -> Frame:
    """A message whose members are JSON texts already (which may hold what json.dumps cannot
    write: NaN, deep nesting, 5,000-digit numbers)."""
    return Frame(
        "{" + ",".join(f"{json.dumps(key)}:{value}" for key, value in members.items()) + "}"
    )


# A few ids, so that they repeat: an id that is still running closes its socket (4409).
IDS = st.sampled_from(["1", "2", "3", "", "é", "x" * 200])

# Where the module's JWT goes in a frame: the token is signed when the server starts.
JWT = "<the module's JWT>"
HEADER_VALUES = TEXT | st.sampled_from(["€", "\u202e", "Bearer ", "Bearer a.b.c", "a.b.c"])
# connection_init's payload: a valid credential mostly; else a wrong one, none, or any object.
INIT_PAYLOADS = mostly(
    st.sampled_from([{"X-API-Key": API_KEY}, {"Authorization": f"Bearer {JWT}"}]),
    st.one_of(
        st.builds(
            lambda name, value: {name: value},
            st.sampled_from(["X-API-Key", "Authorization", "x-api-key"]),
            HEADER_VALUES,
        ),
        st.sampled_from([None, {}]),
        st.dictionaries(
            st.sampled_from(["X-API-Key", "Authorization"]) | TEXT,
            HEADER_VALUES | st.integers() | st.lists(st.integers(), max_size=2),
            max_size=3,
        ),
    ),
)
CONNECTION_INITS = mostly(
    INIT_PAYLOADS.map(lambda payload: _message(type="connection_init", payload=payload)),
    st.just(_message(type="connection_init")),
    7,
)


SUBSCRIPTION = (
    "subscription Follow($imageName: String!, $version: Int, $alias: String) {"
    " imageVersionStatus(imageName: $imageName, version: $version, alias: $alias)"
    " { version imageVersionStatus failureReason } }"
)
# Versions that settle at once (CREATED, failed), or are not there, or wrong refs: each of
# their followers ends by itself.
ENDING = [
    {"imageName": "pytorch-training", "version": 3},
    {"imageName": "pytorch-training", "version": 4},
    {"imageName": "no-such-image", "version": 1},
    {"imageName": "pytorch-training", "version": 3, "alias": "stable"},
    {"imageName": "bad name", "version": -1},
]
# Versions that never settle (CREATING, DELETING: the seed freezes them; pytorch-training's
# latest is CREATING): their followers run until they are completed or the socket goes.
ENDLESS = [
    {"imageName": "pytorch-training", "alias": "next"},
    {"imageName": "tensorflow-notebook", "version": 3},
    {"imageName": "pytorch-training"},
]
OTHER_DOCUMENTS = st.sampled_from(
    [
        "{ __typename }",
        "mutation { nothing }",  # the schema has no mutations
        "query A { __typename } query B { __typename }",  # two operations, no operationName
        "{ __typename ... @defer { __typename } }",
        "subscription { imageVersionStatus { version } }",
        "",
    ]
)


@st.composite
def subscribe_payloads(draw: st.DrawFn) -> tuple[str, bool]:
    """A subscribe message's payload as a JSON text, and whether its operation is endless."""
    kind = draw(
        st.sampled_from(
            ["readme", "readme", "follow", "follow", "schema", "other", "soup", "negative"]
        )
    )
    if kind == "readme":
        _, body = draw(operations_with_variables())
        return body, False
    if kind == "follow":
        variables = draw(st.sampled_from(ENDING + ENDLESS))
        return json.dumps({"query": SUBSCRIPTION, "variables": variables}), variables in ENDLESS
    query = draw(
        {
            "schema": hypothesis_graphql.from_schema(SDL, custom_scalars=CUSTOM_SCALARS),
            "negative": hypothesis_graphql.from_schema(
                SDL, custom_scalars=CUSTOM_SCALARS, mode=Mode.NEGATIVE
            ),
            "other": OTHER_DOCUMENTS,
            "soup": token_soup(),
        }[kind]
    )
    return json.dumps({"query": query}, ensure_ascii=False), False


PING_PAYLOADS = st.none() | st.dictionaries(NAMES, TEXT | st.integers(), max_size=2)
SUBSCRIBES = st.builds(
    lambda id_, payload: dataclasses.replace(
        _raw_message(
            type='"subscribe"', id=json.dumps(id_, ensure_ascii=False), payload=payload[0]
        ),
        endless=payload[1],
    ),
    IDS,
    subscribe_payloads(),
)
# Subscribe twice as often as the others (st.one_of picks its branches evenly).
WELL_FORMED_FRAMES = st.one_of(
    CONNECTION_INITS,
    PING_PAYLOADS.map(lambda payload: _message(type="ping", payload=payload)),
    st.just(_message(type="ping")),
    PING_PAYLOADS.map(lambda payload: _message(type="pong", payload=payload)),
    SUBSCRIBES,
    SUBSCRIBES,
    IDS.map(lambda id_: _message(type="complete", id=id_)),
)


MESSAGE_TYPES = st.sampled_from(
    [
        *("connection_init", "ping", "pong", "subscribe", "complete"),
        # What only a server sends, and the older subscriptions-transport-ws protocol's types.
        *("connection_ack", "next", "error", "start", "stop", "connection_terminate", "ka"),
    ]
)
# Under the size limit by a little (the rest of the message fits), and over it.
LONG = st.sampled_from([200_000, MAX_MESSAGE_BYTES - 200, MAX_MESSAGE_BYTES + 1])
DEEP = st.sampled_from([1_000, 100_000])


MALFORMED_FRAMES = st.one_of(
    JSON_TEXT.map(Frame),
    # Members of any type (the type itself included, or any string).
    st.builds(
        lambda kind, id_, payload: _raw_message(type=kind, id=id_, payload=payload),
        mostly(MESSAGE_TYPES.map(json.dumps), JSON_TEXT | TEXT.map(json.dumps), 2),
        JSON_TEXT | IDS.map(json.dumps),
        JSON_TEXT,
    ),
    st.builds(
        lambda id_, payload: _message(type="subscribe", id=id_, payload=payload),
        IDS,
        st.dictionaries(
            st.sampled_from(["query", "variables", "operationName", "extensions"]),
            st.none() | st.integers() | TEXT | st.lists(st.integers(), max_size=2),
            max_size=4,
        ),
    ),
    # Binary frames: noise, or a message that would be fine as text.
    st.binary(max_size=50).map(lambda data: Frame(data, text=False)),
    st.just(Frame(b'{"type":"ping"}', text=False)),
    # Text frames that are not UTF-8: a lone surrogate encoded, a cut sequence, a stray byte.
    st.sampled_from([b'{"type":"\xed\xa0\x80"}', b"\xc3", b"\xff{}"]).map(
        lambda data: Frame(data, text=True)
    ),
    # Lone surrogates escaped in JSON, which Python reads but is not text.
    st.sampled_from(
        [
            '{"type":"ping","payload":{"\\ud800":1}}',
            '{"type":"subscribe","id":"\\udfff","payload":{"query":"{ __typename }"}}',
            '{"type":"subscribe","id":"1","payload":{"query":"{ __typename }",'
            '"variables":{"a":"\\udbff"}}}',
            '{"type":"connection_init","payload":{"X-API-Key":"\\ud800"}}',
        ]
    ).map(Frame),
    # Long strings, in a query (whitespace: no tokens) and in a variable.
    LONG.map(
        lambda n: _message(type="subscribe", id="1", payload={"query": "{ __typename }" + " " * n})
    ),
    LONG.map(
        lambda n: _message(
            type="subscribe",
            id="1",
            payload={"query": "{ __typename }", "variables": {"a": "x" * n}},
        )
    ),
    # Nesting past the recursion limit in a payload.
    DEEP.map(
        lambda depth: _raw_message(
            type='"subscribe"',
            id='"1"',
            payload='{"query":"{ __typename }","variables":{"a":'
            + "[" * depth
            + "]" * depth
            + "}}",
        )
    ),
)


@st.composite
def conversations(draw: st.DrawFn) -> list[tuple[int, Frame]]:
    """Frames, each for one of up to ``MAX_WEBSOCKETS + 1`` sockets (mostly the first),
    well-formed seven times in eight; three times in four, each socket's first frame is a
    connection_init."""
    frames = draw(
        st.lists(
            st.tuples(
                mostly(st.just(0), st.integers(1, MAX_WEBSOCKETS), 5),
                mostly(WELL_FORMED_FRAMES, MALFORMED_FRAMES, 7),
            ),
            min_size=1,
            max_size=12,
        )
    )
    if draw(mostly(st.just(False), st.just(True))):
        return frames
    sockets = sorted({index for index, _ in frames})
    return [(index, draw(CONNECTION_INITS)) for index in sockets] + frames


# ---------------------------------------------------------------------------------------------
# Clients


class Client:
    """One socket of an example, as a client holds it: what it sent, and what the server sent
    back (messages, a close frame, or a refused handshake)."""

    def __init__(self, service: LiveService, sockets: ExitStack) -> None:
        self.jwt = service.jwt
        # The ids the server may answer for: those of the subscribe messages sent.
        self.subscribed: set[str] = set()
        # Operations started and not ended yet, by id; and the endless ones.
        self.running: Counter[str] = Counter()
        self.endless: set[str] = set()
        self.inits = self.acks = self.pings = self.pongs = 0
        self.received: list[dict[str, Any]] = []
        # The errorIds of INTERNAL_SERVER_ERRORs, which only a known defect may explain.
        self.internal_errors: list[str] = []
        self.close: tuple[int, str] | None = None
        # The server ended the connection without a close frame; it may, once it has closed
        # the socket for a message over the size limit that it did not read to the end.
        self.dropped = False
        self.oversized = False
        self.refusal: Response | None = None
        self.socket: ClientConnection | None = None
        try:
            self.socket = sockets.enter_context(
                connect(
                    service.url.replace("http://", "ws://") + "/graphql",
                    subprotocols=[GRAPHQL_WS],
                    open_timeout=REQUEST_TIMEOUT_SECONDS,
                    close_timeout=REQUEST_TIMEOUT_SECONDS,
                    max_size=None,
                    max_queue=None,
                )
            )
        except InvalidStatus as refused:
            self.refusal = refused.response

    @property
    def ended(self) -> bool:
        return self.close is not None or self.dropped

    def send(self, frame: Frame) -> None:
        """Send ``frame``, unless the socket is known to be closed."""
        if self.socket is None or self.ended:
            return
        data = frame.data.replace(JWT, self.jwt) if isinstance(frame.data, str) else frame.data
        self.oversized |= len(data) > MAX_MESSAGE_BYTES
        if frame.text:
            self._remember(data, frame.endless)
        try:
            self.socket.send(data, text=frame.text)
        except ConnectionClosed as closed:
            self._closed(closed)

    def _remember(self, data: str | bytes, endless: bool) -> None:
        """What the server owes for a message: an ack, a pong, an operation's end."""
        try:
            message = json.loads(data)
        except (ValueError, RecursionError):
            return
        if not isinstance(message, dict):
            return
        kind, id_ = message.get("type"), message.get("id")
        if kind == "connection_init":
            self.inits += 1
        if kind == "ping" and isinstance(message.get("payload"), dict | None):
            self.pings += 1
        if kind == "subscribe" and isinstance(id_, str):
            self.subscribed.add(id_)
            if endless:
                self.endless.add(id_)
            else:
                self.running[id_] += 1
        if kind == "complete" and isinstance(id_, str):
            self.running[id_] = 0
            self.endless.discard(id_)

    def finish(self) -> None:
        """Check the handshake's refusal; or complete the endless operations, check every
        message until the others have ended and every ping has its pong (or the socket is
        closed), then close the socket and check what came before the server's close frame.

        Once its operations have ended, nothing a socket started is left to log an error."""
        if self.socket is None:
            assert self.refusal is not None
            _check_refusal(self.refusal)
            return
        for id_ in sorted(self.endless):
            self.send(_message(type="complete", id=id_))
        self._read_until(lambda: not +self.running, "the end of every operation")
        self.send(_message(type="ping"))
        self._read_until(lambda: self.pongs >= self.pings, "a pong")
        self.socket.close()
        self._read_until(lambda: False, "the close frame")
        if self.close is not None:
            _check_close(self.close)

    def _read_until(self, done: Callable[[], bool], what: str) -> None:
        assert self.socket is not None
        deadline = time.monotonic() + REQUEST_TIMEOUT_SECONDS
        while not self.ended and not done():
            try:
                message = self.socket.recv(timeout=max(deadline - time.monotonic(), 0))
            except TimeoutError:
                raise AssertionError(f"the server hangs: no {what}") from None
            except ConnectionClosed as closed:
                self._closed(closed)
            else:
                self._check(message)

    def _closed(self, closed: ConnectionClosed) -> None:
        if self.ended:
            return
        if closed.rcvd is None:
            self.dropped = True
            _note("dropped without a close frame")
        else:
            self.close = closed.rcvd.code, closed.rcvd.reason
            _note(f"closed with {self.close}")

    def _check(self, message: str | bytes) -> None:
        """Check one message the server sent, and count what it settles."""
        assert isinstance(message, str), f"a binary message: {message!r}"
        shown = message if len(message) <= 1000 else message[:1000] + "..."
        _note(f"received {shown}")
        try:
            body = json.loads(message, parse_constant=_not_json)
        except ValueError:
            raise AssertionError(f"a message that is not JSON: {shown}") from None
        assert isinstance(body, dict), f"a message that is not an object: {shown}"
        self.received.append(body)
        kind = body.get("type")
        assert kind in SERVER_TYPES, f"a message of no server type: {shown}"
        if kind == "connection_ack":
            self.acks += 1
            assert self.acks <= self.inits, f"an ack without an init: {shown}"
        if kind == "pong":
            self.pongs += 1
        if kind in {"next", "error", "complete"}:
            assert body.get("id") in self.subscribed, f"a message for no operation: {shown}"
        if kind in {"error", "complete"} and self.running[body["id"]] > 0:
            self.running[body["id"]] -= 1
        if kind == "next":
            payload = body.get("payload")
            assert isinstance(payload, dict), f"next without a payload: {shown}"
            assert payload.keys() & {"data", "errors"}, f"neither data nor errors: {shown}"
            self._check_errors(payload.get("errors", []), shown)
        if kind == "error":
            assert body.get("payload"), f"error without errors: {shown}"
            self._check_errors(body["payload"], shown)

    def _check_errors(self, errors: object, shown: str) -> None:
        assert isinstance(errors, list), f"errors is not a list: {shown}"
        for error in errors:
            assert isinstance(error, dict), f"an error is not an object: {shown}"
            assert isinstance(error.get("message"), str), f"an error without a message: {shown}"
            code = (error.get("extensions") or {}).get("code")
            assert code is not None, f"an error without extensions.code: {shown}"
            if code == "INTERNAL_SERVER_ERROR":
                self.internal_errors.append(error["extensions"].get("errorId"))
                continue
            assert code in ERROR_CODES, f"unknown code {code!r}: {shown}"
            for marker in LEAKS:
                assert marker not in error["message"], f"an error leaks {marker!r}: {shown}"


def _note(text: str) -> None:
    """hypothesis's note, in a fuzz example; the defects' own tests run without one."""
    if currently_in_test_context():
        note(text)


def _not_json(constant: str) -> object:
    raise ValueError(f"{constant} is not JSON")


def _check_refusal(response: Response) -> None:
    body = (response.body or b"").decode(errors="replace")
    assert response.status_code == 503, f"handshake refused: {response.status_code} {body}"
    assert "Retry-After" in response.headers, f"a 503 without Retry-After: {body}"
    [error] = json.loads(body)["errors"]
    assert error["extensions"]["code"] == ErrorCode.TOO_MANY_SUBSCRIPTIONS, body


def _check_close(close: tuple[int, str]) -> None:
    code, reason = close
    assert code in CLOSE_CODES, f"closed with {code} {reason!r}"
    for marker in ("Traceback", 'File "'):
        assert marker not in reason, f"the close reason leaks {marker!r}: {reason!r}"


def converse(service: LiveService, sockets: ExitStack, frames: list[Frame]) -> Client:
    """One socket that sends ``frames``, then finishes (see ``Client.finish``)."""
    client = Client(service, sockets)
    for frame in frames:
        client.send(frame)
    client.finish()
    return client


# ---------------------------------------------------------------------------------------------
# The property


@settings(FUZZ, max_examples=400)
@given(conversation=conversations())
def test_frame_sequences_over_websockets(
    live_service: LiveService, conversation: list[tuple[int, Frame]]
) -> None:
    with ExitStack() as sockets:
        clients: dict[int, Client] = {}
        for index, frame in conversation:
            if index not in clients:
                clients[index] = Client(live_service, sockets)
            clients[index].send(frame)
        for client in clients.values():
            client.finish()
    records = live_service.logged()
    assert not records, "the server logged errors:\n" + "\n".join(map(_shown, records))
    for client in clients.values():
        assert not client.dropped or client.oversized, "a connection dropped without a close frame"
        assert not client.internal_errors, f"INTERNAL_SERVER_ERROR {client.internal_errors}"


# ---------------------------------------------------------------------------------------------
# Defects the fuzz found, each in its smallest form.

INIT = _message(type="connection_init", payload={"X-API-Key": API_KEY})


def test_a_credential_outside_latin_1_is_refused_with_4403(live_service: LiveService) -> None:
    with ExitStack() as sockets:
        client = converse(
            live_service, sockets, [_message(type="connection_init", payload={"X-API-Key": "€"})]
        )
    logged = [_shown(record) for record in live_service.logged()]
    assert (client.close, logged) == ((4403, "Forbidden"), [])


def test_a_handshake_refused_for_the_socket_limit_logs_no_error(
    live_service: LiveService,
) -> None:
    with ExitStack() as sockets:
        for _ in range(MAX_WEBSOCKETS):
            Client(live_service, sockets)
        refused = Client(live_service, sockets)
        refused.finish()
    logged = [_shown(record) for record in live_service.logged()]
    assert logged == []


@pytest.mark.parametrize("before", [[], [INIT]], ids=["alone", "after-init"])
def test_a_text_frame_not_utf8_closes_with_1007_and_logs_no_error(
    live_service: LiveService, before: list[Frame]
) -> None:
    with ExitStack() as sockets:
        client = converse(live_service, sockets, [*before, Frame(b"\xff{}")])
    logged = [_shown(record) for record in live_service.logged()]
    assert (client.close, logged) == ((1007, ""), [])


def test_the_per_connection_limit_error_is_coded(live_service: LiveService) -> None:
    follow = {"query": SUBSCRIPTION, "variables": ENDLESS[0]}
    subscribes = [
        dataclasses.replace(_message(type="subscribe", id=str(n), payload=follow), endless=True)
        for n in range(MAX_SUBSCRIPTIONS_PER_CONNECTION + 1)
    ]
    with ExitStack() as sockets:
        client = converse(live_service, sockets, [INIT, *subscribes])
    live_service.logged()
    [refused] = [message for message in client.received if message["type"] == "error"]
    assert refused["payload"][0].get("extensions", {}).get("code") == "TOO_MANY_SUBSCRIPTIONS"


@pytest.mark.parametrize(
    "payload",
    [{"query": "{ __typename }", "operationName": "Other"}, {"query": ""}],
    ids=["no-such-operation", "empty-query"],
)
def test_an_operation_strawberry_cannot_prepare_gets_a_coded_error(
    live_service: LiveService, payload: dict[str, str]
) -> None:
    subscribe = _message(type="subscribe", id="1", payload=payload)
    with ExitStack() as sockets:
        client = converse(live_service, sockets, [INIT, subscribe])
    logged = [_shown(record) for record in live_service.logged()]
    assert (client.internal_errors, logged) == ([], [])


def test_a_long_id_used_twice_closes_with_4409(live_service: LiveService) -> None:
    follow = {"query": SUBSCRIPTION, "variables": ENDLESS[0]}
    subscribe = dataclasses.replace(
        _message(type="subscribe", id="x" * 200, payload=follow), endless=True
    )
    with ExitStack() as sockets:
        client = converse(live_service, sockets, [INIT, subscribe, subscribe])
    logged = [_shown(record) for record in live_service.logged()]
    assert (client.close and client.close[0], logged) == (4409, [])
