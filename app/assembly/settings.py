"""The service's configuration: every setting declared once, read from the environment once at
start, validated there, and split into the options each room takes.

A setting is one field of :class:`Settings`, declared with :func:`setting`: its variable, its
default, its parser and the README's words for it. The environment reader
(:meth:`Settings.from_env`), the README's settings table (:func:`settings_table`) and the
environment handed to worker processes (:func:`environment_of`) all come from those fields.
Nothing else in the service reads ``os.environ``: a bad value fails the start with a message that
names the variable, instead of surfacing later as a confusing error in the middle of a request.

No room below the assembly sees this class: each takes a small options object of its own,
made here (:meth:`Settings.aws`, :meth:`Settings.cache_options`, ...).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlparse

from app.cache.build import CacheBackend, CacheOptions
from app.cache.policy import CachePolicy
from app.logs import LOG_LEVELS
from app.sagemaker import AwsOptions
from app.sagemaker.client import RetryMode, resolve_region
from app.sagemaker.targets import TargetSpec, read_target_specs
from app.schema.limits import SchemaLimits
from app.web.app import WebOptions
from app.web.graphql_endpoint import EndpointOptions
from app.web.persisted_queries import TrustedDocuments
from app.web.server import ServerOptions
from app.web.subscriptions import SubscriptionOptions

Backend = Literal["local", "aws"]
T = TypeVar("T")

MIB = 1024 * 1024

# Variables that were settings once: set, they fail the start (ignored, they would leave an
# operator believing a bound holds that no longer does).
RETIRED = {
    "SMGQL_CACHE_MAX_ENTRIES": "retired: the in-process cache is bounded in bytes now; set"
    " SMGQL_CACHE_MAX_BYTES",
}


class SettingsError(ValueError):
    """One or more settings are invalid; the message lists each with its variable."""


@dataclass(frozen=True)
class Variable:
    """One environment variable: how it is parsed, and what the README says of it."""

    name: str
    parse: Callable[[str], Any]
    doc: str
    fallbacks: tuple[str, ...] = ()
    # How the README shows a default of None.
    unset: str = "embedded"

    def read(self, env: Mapping[str, str]) -> str | None:
        for name in (self.name, *self.fallbacks):
            if env.get(name):
                return env[name]
        return None


def setting(
    name: str,
    default: Any,
    parse: Callable[[str], Any],
    doc: str,
    fallbacks: tuple[str, ...] = (),
    unset: str = "embedded",
) -> Any:
    """A field of :class:`Settings`: its default, and the variable it is read from."""
    variable = Variable(name, parse, doc, fallbacks, unset)
    return dataclasses.field(default=default, metadata={"variable": variable})


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.lower()
        if value not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}")
        return value

    return parse


def _number(kind: type[int] | type[float], low: float, high: float) -> Callable[[str], Any]:
    def parse(raw: str) -> Any:
        try:
            value = kind(raw)
        except ValueError:
            raise ValueError(
                "expected a whole number" if kind is int else "expected a number"
            ) from None
        if not low <= value <= high:
            raise ValueError(f"expected a value from {low} to {high}")
        return value

    return parse


def _url(raw: str) -> str:
    parsed = urlparse(raw)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError("expected an http(s) URL such as http://127.0.0.1:4566")
    return raw


def _text(raw: str) -> str:
    if not raw:
        raise ValueError("must not be empty")
    return raw


def _workers(raw: str) -> int:
    if raw.lower() == "auto":
        return os.cpu_count() or 1
    workers: int = _number(int, 1, 256)(raw)
    return workers


def _switch(raw: str) -> bool:
    value = raw.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _origins(raw: str) -> tuple[str, ...]:
    origins = tuple(origin.strip().rstrip("/") for origin in raw.split(",") if origin.strip())
    for origin in origins:
        parsed = urlparse(origin)
        if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.path:
            raise ValueError(f"{origin!r} is not an origin such as https://app.example.com")
    return origins


def _redis_url(raw: str) -> str:
    parsed = urlparse(raw)
    if parsed.scheme not in ("redis", "rediss", "unix") or not (parsed.netloc or parsed.path):
        raise ValueError("expected a Redis URL such as redis://127.0.0.1:6379/0")
    return raw


def _rate(raw: str) -> str:
    # Imported here: only a service that sets a rate limit loads the limits library.
    from limits import parse

    try:
        parse(raw)
    except ValueError:
        raise ValueError("expected a rate such as 20/second or 1000/minute") from None
    return raw


def _readable_file(raw: str) -> str:
    if not os.path.isfile(raw):
        raise ValueError("no such file")
    return raw


def _token(path: str | None) -> str | None:
    """The token a file holds (surrounding whitespace aside); an empty file is an error, not
    an empty token that anyone could send."""
    if path is None:
        return None
    token = Path(path).read_text(encoding="utf-8").strip()
    if not token:
        raise ValueError(f"{path} holds no token.")
    return token


@dataclass(frozen=True)
class Settings:
    backend: Backend = setting(
        "SMGQL_BACKEND",
        "local",
        _choice("local", "aws"),
        "`local`: the SageMaker-compatible local endpoint (embedded unless an endpoint URL is"
        " set); `aws`: real SageMaker through the default AWS credential chain.",
    )
    region: str | None = setting(
        "SMGQL_REGION",
        None,
        _text,
        "AWS region of the default target. Unset: botocore's chain, as boto3 resolves it"
        " (`AWS_DEFAULT_REGION`, then the profile's `region`); the local endpoint's `us-east-1`"
        " when that says nothing, and for `aws` no region fails the start.",
        unset="boto3's",
    )
    targets_file: str | None = setting(
        "SMGQL_TARGETS_FILE",
        None,
        _readable_file,
        "JSON file of the regions and accounts served, each with how it is reached (a profile,"
        " a role to assume, or the default chain); the first is the default. Unset: one target,"
        " the region above and the account STS reports. See Regions and accounts.",
        unset="none",
    )
    endpoint_url: str | None = setting(
        "SMGQL_ENDPOINT_URL",
        None,
        _url,
        "SageMaker endpoint URL. With `local`, a running local endpoint instead of the"
        " embedded one; with `aws`, an override such as a VPC endpoint.",
        fallbacks=("AWS_ENDPOINT_URL_SAGEMAKER",),
    )
    local_db: str = setting(
        "SMGQL_LOCAL_DB",
        ":memory:",
        _text,
        "SQLite file of the embedded local endpoint (`:memory:` keeps nothing).",
    )
    local_transition_delay: float = setting(
        "SMGQL_LOCAL_TRANSITION_DELAY",
        0.0,
        _number(float, 0, 3600),
        "Seconds the embedded local endpoint keeps a new image or version CREATING (and an"
        " updated one UPDATING, a deleted one DELETING), to watch a build; 0: at once.",
    )
    pool_size: int = setting(
        "SMGQL_POOL_SIZE",
        32,
        _number(int, 1, 1000),
        "Concurrent SageMaker calls: the size of the HTTP connection pool to SageMaker.",
    )
    pool_idle_seconds: float = setting(
        "SMGQL_POOL_IDLE_SECONDS",
        4.0,
        _number(float, 0.1, 3600),
        "Seconds a pooled connection to SageMaker may idle before it is closed instead of"
        " reused; keep it below the upstream's keep-alive timeout (the local endpoint's is 5 s).",
    )
    connect_timeout: float = setting(
        "SMGQL_CONNECT_TIMEOUT",
        2.0,
        _number(float, 0.1, 120),
        "Seconds to wait for a connection to SageMaker.",
    )
    read_timeout: float = setting(
        "SMGQL_READ_TIMEOUT",
        10.0,
        _number(float, 0.1, 300),
        "Seconds to wait for SageMaker's answer.",
    )
    retry_mode: RetryMode = setting(
        "SMGQL_RETRY_MODE",
        "standard",
        _choice("standard", "adaptive", "legacy"),
        "botocore's retry mode.",
    )
    max_attempts: int = setting(
        "SMGQL_MAX_ATTEMPTS",
        3,
        _number(int, 1, 20),
        "Attempts per SageMaker call, the first included.",
    )
    readiness_cache_seconds: float = setting(
        "SMGQL_READINESS_CACHE_SECONDS",
        5.0,
        _number(float, 0, 3600),
        "How long `/readyz` reuses its last check of SageMaker.",
    )
    readiness_timeout: float = setting(
        "SMGQL_READINESS_TIMEOUT",
        2.0,
        _number(float, 0.1, 60),
        "Seconds `/readyz` waits for SageMaker before it answers 503.",
    )
    host: str = setting(
        "SMGQL_HOST",
        "127.0.0.1",
        _text,
        "Address the HTTP server binds.",
    )
    port: int = setting(
        "SMGQL_PORT",
        8000,
        _number(int, 0, 65535),
        "Port the HTTP server binds.",
    )
    workers: int = setting(
        "SMGQL_WORKERS",
        1,
        _workers,
        "Worker processes serving requests (`auto`: one per core). The embedded local endpoint"
        " stays one process that all workers share.",
    )
    log_level: str = setting(
        "SMGQL_LOG_LEVEL",
        "info",
        _choice(*LOG_LEVELS),
        "Log level.",
    )
    cost_extension: bool = setting(
        "SMGQL_COST_EXTENSION",
        False,
        _switch,
        "Add `extensions.cost` to each response: upstream calls, cache hits, coalesced waits,"
        " retries, the estimated objects.",
    )
    max_body_bytes: int = setting(
        "SMGQL_MAX_BODY_BYTES",
        256 * 1024,
        _number(int, 1024, 64 * 1024 * 1024),
        "Largest request body or WebSocket message: a larger body is refused with 413 before it"
        " is read, a larger message closes its socket (1009).",
    )
    max_tokens: int = setting(
        "SMGQL_MAX_TOKENS",
        10_000,
        _number(int, 100, 1_000_000),
        "Most tokens in a GraphQL document; parsing stops there.",
    )
    max_selections: int = setting(
        "SMGQL_MAX_SELECTIONS",
        1_000,
        _number(int, 10, 100_000),
        "Most selections (fields, fragment spreads, inline fragments) in a document, a fragment's"
        " counted again at every place it is spread; checked before validation.",
    )
    max_repeated_selections: int = setting(
        "SMGQL_MAX_REPEATED_SELECTIONS",
        10,
        _number(int, 2, 1000),
        "Most fields one selection set may hold under one response name once its fragments are"
        " merged in (validation compares each such pair), checked before validation.",
    )
    max_depth: int = setting(
        "SMGQL_MAX_DEPTH",
        12,
        _number(int, 1, 100),
        "Deepest field nesting, counted from the root fields (0).",
    )
    max_aliases: int = setting(
        "SMGQL_MAX_ALIASES",
        100,
        _number(int, 0, 10_000),
        "Most aliases.",
    )
    max_refs: int = setting(
        "SMGQL_MAX_REFS",
        100,
        _number(int, 1, 10_000),
        "Most refs in one `imageVersions` call.",
    )
    max_first: int = setting(
        "SMGQL_MAX_FIRST",
        100,
        _number(int, 1, 1000),
        "Largest page (`first`) of a connection.",
    )
    max_objects: int = setting(
        "SMGQL_MAX_OBJECTS",
        5_000,
        _number(int, 1, 10_000_000),
        "Most objects an operation may fetch (the object budget), estimated before it runs.",
    )
    max_errors: int = setting(
        "SMGQL_MAX_ERRORS",
        100,
        _number(int, 1, 100_000),
        "Most errors in one response; the rest are left out, and one `TOO_MANY_ERRORS` error"
        " says how many.",
    )
    max_response_bytes: int = setting(
        "SMGQL_MAX_RESPONSE_BYTES",
        1024 * 1024,
        _number(int, 1024, 1024 * 1024 * 1024),
        "Largest `/graphql` response body or WebSocket result; a larger answer is replaced by"
        " one `RESPONSE_TOO_LARGE` error.",
    )
    request_timeout: float = setting(
        "SMGQL_REQUEST_TIMEOUT",
        15.0,
        _number(float, 0.1, 600),
        "Seconds a request waits for SageMaker in all; what is still outstanding then is a"
        " `DEADLINE_EXCEEDED` error.",
    )
    request_read_timeout: float = setting(
        "SMGQL_REQUEST_READ_TIMEOUT",
        10.0,
        _number(float, 0.1, 600),
        "Seconds a client has to send a whole request (headers and body) once it connects or"
        " starts one; then the connection is closed.",
    )
    write_timeout: float = setting(
        "SMGQL_WRITE_TIMEOUT",
        30.0,
        _number(float, 0.1, 3600),
        "Seconds a client may read nothing of an answer the server is waiting to send (HTTP or"
        " WebSocket); then the connection is dropped and what it held is freed.",
    )
    keep_alive_timeout: float = setting(
        "SMGQL_KEEP_ALIVE_TIMEOUT",
        5.0,
        _number(float, 0.1, 600),
        "Seconds an idle keep-alive connection stays open.",
    )
    max_connections: int = setting(
        "SMGQL_MAX_CONNECTIONS",
        2_000,
        _number(int, 1, 1_000_000),
        "Most connections and requests at once; beyond it requests get 503.",
    )
    shutdown_timeout: float = setting(
        "SMGQL_SHUTDOWN_TIMEOUT",
        20.0,
        _number(float, 0, 600),
        "Seconds a stopping server lets requests in flight finish.",
    )
    max_head_bytes: int = setting(
        "SMGQL_MAX_HEAD_BYTES",
        64 * 1024,
        _number(int, 1024, 16 * 1024 * 1024),
        "Largest request head (request line and headers): a larger one is answered 414 while"
        " the URL is still arriving, 431 after, and the connection closed.",
    )
    cache: CacheBackend = setting(
        "SMGQL_CACHE",
        "memory",
        _choice("memory", "redis", "off"),
        "Where SageMaker's answers are kept across requests: `memory` (this process), `redis`"
        " (shared by replicas), `off`.",
    )
    redis_url: str | None = setting(
        "SMGQL_REDIS_URL",
        None,
        _redis_url,
        "The Redis of `SMGQL_CACHE=redis`, e.g. `redis://127.0.0.1:6379/0`.",
        unset="none",
    )
    redis_timeout: float = setting(
        "SMGQL_REDIS_TIMEOUT",
        0.25,
        _number(float, 0.01, 10),
        "Seconds a request waits for each Redis call of the cache (then goes without it); a call"
        " still unanswered after twice that while Redis answered nothing else (a stall), or 3"
        " failures in a row, and Redis is bypassed: answers come from SageMaker.",
    )
    redis_cooldown: float = setting(
        "SMGQL_REDIS_COOLDOWN",
        5.0,
        _number(float, 0.1, 3600),
        "Seconds Redis stays bypassed after it stalled or failed, before one call probes it"
        " again (its success ends the bypass).",
    )
    cache_namespace: str | None = setting(
        "SMGQL_CACHE_NAMESPACE",
        None,
        _text,
        "Prefix of the cache's keys; by default the backend, region, endpoint and AWS account, so"
        " that only replicas that would get the same answers share them.",
        unset="derived",
    )
    cache_ttl: float = setting(
        "SMGQL_CACHE_TTL",
        30.0,
        _number(float, 0, 86400),
        "Seconds a settled image or version (not in a transition) stays fresh; `0` keeps none.",
    )
    cache_changing_ttl: float = setting(
        "SMGQL_CACHE_CHANGING_TTL",
        2.0,
        _number(float, 0, 86400),
        "Seconds an image or version that is CREATING, UPDATING or DELETING stays fresh.",
    )
    cache_list_ttl: float = setting(
        "SMGQL_CACHE_LIST_TTL",
        10.0,
        _number(float, 0, 86400),
        'Seconds a list page, an alias list, or the version an alias or "latest" names stays'
        " fresh.",
    )
    cache_not_found_ttl: float = setting(
        "SMGQL_CACHE_NOT_FOUND_TTL",
        5.0,
        _number(float, 0, 86400),
        'Seconds "not found" is remembered.',
    )
    cache_stale_seconds: float = setting(
        "SMGQL_CACHE_STALE_SECONDS",
        0.0,
        _number(float, 0, 86400),
        "Seconds past freshness an answer is still served while one refresh runs; `0` never.",
    )
    cache_max_bytes: int = setting(
        "SMGQL_CACHE_MAX_BYTES",
        64 * MIB,
        _number(int, MIB, 1 << 40),
        "Most bytes the in-process cache holds, answers and responses as they sit in memory"
        " (least recently used go first). Redis is bounded by its own `maxmemory`.",
    )
    cache_max_entry_bytes: int = setting(
        "SMGQL_CACHE_MAX_ENTRY_BYTES",
        2 * MIB,
        _number(int, 1024, 1 << 40),
        "Largest answer, response or persisted query kept, as kept (in memory, or encoded in"
        " Redis); a larger one is served, not kept.",
    )
    persisted_queries_max_bytes: int = setting(
        "SMGQL_PERSISTED_QUERIES_MAX_BYTES",
        16 * MIB,
        _number(int, MIB, 1 << 40),
        "Most bytes of persisted query texts a process holds when they are not kept in Redis.",
    )
    persisted_queries_ttl: float = setting(
        "SMGQL_PERSISTED_QUERIES_TTL",
        86_400.0,
        _number(float, 1, 365 * 86_400),
        "Seconds a persisted query's text is kept after it was last registered.",
    )
    rate_limit: str | None = setting(
        "SMGQL_RATE_LIMIT",
        None,
        _rate,
        "Most SageMaker calls per operation, e.g. `20/second`, shared by replicas on Redis; a"
        " call over it waits (at most the request timeout).",
        unset="none",
    )
    http_cache_authenticated: bool = setting(
        "SMGQL_HTTP_CACHE_AUTHENTICATED",
        False,
        _switch,
        "Let browsers keep GET answers to authenticated requests (`Cache-Control: private`);"
        " off: `no-store`.",
    )
    max_subscriptions: int = setting(
        "SMGQL_MAX_SUBSCRIPTIONS",
        1_000,
        _number(int, 1, 1_000_000),
        "Most subscriptions a process serves at once (every connection together).",
    )
    max_subscriptions_per_connection: int = setting(
        "SMGQL_MAX_SUBSCRIPTIONS_PER_CONNECTION",
        20,
        _number(int, 1, 10_000),
        "Most subscriptions one WebSocket connection may hold.",
    )
    max_websockets: int = setting(
        "SMGQL_MAX_WEBSOCKETS",
        1_000,
        _number(int, 1, 1_000_000),
        "Most WebSocket connections a process holds at once; beyond it the handshake gets 503."
        " Keep it below `SMGQL_MAX_CONNECTIONS`, so sockets never take every slot.",
    )
    websocket_idle_timeout: float = setting(
        "SMGQL_WEBSOCKET_IDLE_TIMEOUT",
        60.0,
        _number(float, 0.1, 86_400),
        "Seconds a WebSocket may run no operation before it is closed (1000); a client opens"
        " it again when it subscribes (graphql-ws does).",
    )
    trusted_documents: str | None = setting(
        "SMGQL_TRUSTED_DOCUMENTS",
        None,
        _readable_file,
        "JSON manifest of document ids to texts (graphql-codegen's `persisted-documents.json`,"
        " relay-compiler's `persistConfig` file); with it only those documents run, named by id"
        " or sent as their exact text, and nothing else is parsed. See Trusted documents.",
        unset="none",
    )
    # Unset (None) differs from `true`: GraphiQL is on by default, but a service with trusted
    # documents serves it only when the operator asks for it by name.
    graphiql: bool | None = setting(
        "SMGQL_GRAPHIQL",
        None,
        _switch,
        "Serve GraphiQL to browsers at `/graphql`. Unset: on, but off with"
        " `SMGQL_TRUSTED_DOCUMENTS` (set `true` to keep it there).",
        unset="on (off with trusted documents)",
    )
    introspection: bool = setting(
        "SMGQL_INTROSPECTION",
        True,
        _switch,
        "Answer introspection queries (`__schema`, `__type`); GraphiQL needs them. With trusted"
        " documents, only a listed introspection query runs.",
    )
    cors_origins: tuple[str, ...] = setting(
        "SMGQL_CORS_ORIGINS",
        (),
        _origins,
        "Comma-separated origins whose browser pages may call the API; none by default.",
        unset="none",
    )
    api_keys_file: str | None = setting(
        "SMGQL_API_KEYS_FILE",
        None,
        _readable_file,
        "File of API keys, one per line; with it (or a JWKS file) requests need a key in"
        " `X-API-Key` or `Authorization: Bearer`.",
        unset="none",
    )
    metrics_token_file: str | None = setting(
        "SMGQL_METRICS_TOKEN_FILE",
        None,
        _readable_file,
        "File holding one token; with it, `/metrics` needs `Authorization: Bearer <token>` (and"
        " only that, with authentication on or off).",
        unset="none",
    )
    jwks_file: str | None = setting(
        "SMGQL_JWKS_FILE",
        None,
        _readable_file,
        "JWKS file; with it, `Authorization: Bearer <JWT>` signed by one of its keys is accepted.",
        unset="none",
    )
    jwt_audience: str | None = setting(
        "SMGQL_JWT_AUDIENCE",
        None,
        _text,
        "The `aud` a JWT must carry.",
        unset="none",
    )
    jwt_issuer: str | None = setting(
        "SMGQL_JWT_ISSUER",
        None,
        _text,
        "The `iss` a JWT must carry.",
        unset="none",
    )
    jwt_max_lifetime: float = setting(
        "SMGQL_JWT_MAX_LIFETIME",
        86400.0,
        _number(float, 1, 366 * 86400),
        "Seconds a JWT may be valid for in all (`exp - iat`, or `exp` - now without `iat`);"
        " a token that lives longer is refused.",
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        problems: list[str] = []
        for field, variable in VARIABLES:
            raw = variable.read(env)
            if raw is None:
                continue
            try:
                values[field.name] = variable.parse(raw.strip())
            except ValueError as error:
                problems.append(f"{variable.name}={raw!r}: {error}")
        if values.get("cache") == "redis" and not values.get("redis_url"):
            problems.append("SMGQL_CACHE=redis needs SMGQL_REDIS_URL")
        problems += [f"{name} is {why}" for name, why in RETIRED.items() if name in env]
        settings = cls(**values)
        try:
            settings.target_specs()
        except (ValueError, OSError) as error:
            problems.append(str(error))
        try:
            settings.trusted_document_manifest()
        except (ValueError, OSError) as error:
            problems.append(str(error))
        if problems:
            raise SettingsError("invalid settings: " + "; ".join(problems))
        return settings

    def target_specs(self) -> tuple[TargetSpec, ...]:
        """The targets served: the targets file's, checked; without one, the region (as boto3
        resolves it) and whatever account the default chain's credentials belong to. Raises
        ValueError (or OSError) naming the problem."""
        if self.targets_file is None:
            return (TargetSpec(resolve_region(self.region, self.backend == "local"), None),)
        return _json_file(self.targets_file, "SMGQL_TARGETS_FILE", read_target_specs)

    def trusted_document_manifest(self) -> TrustedDocuments | None:
        """The documents the trusted-documents file lists, each checked; None without one.
        Raises ValueError (or OSError) naming the problem, and the entry it is in."""
        if self.trusted_documents is None:
            return None
        return _json_file(self.trusted_documents, "SMGQL_TRUSTED_DOCUMENTS", TrustedDocuments.read)

    @property
    def graphiql_served(self) -> bool:
        """Whether GraphiQL is served: as set, else unless trusted documents are on."""
        if self.graphiql is not None:
            return self.graphiql
        return self.trusted_documents is None

    def aws(self) -> AwsOptions:
        return AwsOptions(
            endpoint_url=self.endpoint_url,
            local=self.backend == "local",
            pool_size=self.pool_size,
            pool_idle_seconds=self.pool_idle_seconds,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retry_mode=self.retry_mode,
            max_attempts=self.max_attempts,
        )

    def cache_options(self) -> CacheOptions:
        policy = CachePolicy(
            settled=self.cache_ttl,
            changing=self.cache_changing_ttl,
            lists=self.cache_list_ttl,
            not_found=self.cache_not_found_ttl,
            stale=self.cache_stale_seconds,
        )
        # A replica waits for another's fetch at most as long as that fetch may take.
        return CacheOptions(
            backend=self.cache,
            redis_url=self.redis_url,
            max_bytes=self.cache_max_bytes,
            persisted_max_bytes=self.persisted_queries_max_bytes,
            max_entry_bytes=self.cache_max_entry_bytes,
            policy=policy,
            lock_seconds=self.read_timeout,
            redis_timeout=self.redis_timeout,
            redis_cooldown=self.redis_cooldown,
        )

    def schema_limits(self) -> SchemaLimits:
        return SchemaLimits(
            max_tokens=self.max_tokens,
            max_selections=self.max_selections,
            max_repeated_selections=self.max_repeated_selections,
            max_depth=self.max_depth,
            max_aliases=self.max_aliases,
            max_objects=self.max_objects,
            max_errors=self.max_errors,
            max_refs=self.max_refs,
            max_first=self.max_first,
            introspection=self.introspection,
        )

    @property
    def authentication(self) -> bool:
        return self.api_keys_file is not None or self.jwks_file is not None

    def web(self) -> WebOptions:
        endpoint = EndpointOptions(
            graphiql=self.graphiql_served,
            cost_extension=self.cost_extension,
            http_cache_authenticated=self.http_cache_authenticated,
            authentication=self.authentication,
            max_response_bytes=self.max_response_bytes,
        )
        subscriptions = SubscriptionOptions(
            allowed_origins=self.cors_origins,
            max_per_connection=self.max_subscriptions_per_connection,
            init_timeout=self.request_read_timeout,
            idle_timeout=self.websocket_idle_timeout,
            max_connections=self.max_websockets,
            max_response_bytes=self.max_response_bytes,
        )
        return WebOptions(
            endpoint=endpoint,
            subscriptions=subscriptions,
            request_timeout=self.request_timeout,
            max_body_bytes=self.max_body_bytes,
            cors_origins=self.cors_origins,
            metrics_token=_token(self.metrics_token_file),
        )

    def server(self) -> ServerOptions:
        return ServerOptions(
            host=self.host,
            port=self.port,
            workers=self.workers,
            request_read_timeout=self.request_read_timeout,
            write_timeout=self.write_timeout,
            keep_alive_timeout=self.keep_alive_timeout,
            max_connections=self.max_connections,
            shutdown_timeout=self.shutdown_timeout,
            max_message_bytes=self.max_body_bytes,
            max_head_bytes=self.max_head_bytes,
        )


def _json_file(path: str, variable: str, read: Callable[[Any], T]) -> T:
    """``read`` of the JSON in the file at ``path`` (named by ``variable``); a ValueError (or
    OSError) naming the variable when the file is not JSON or ``read`` refuses it."""
    with open(path, encoding="utf-8") as file:
        text = file.read()
    try:
        value = json.loads(text)
    except ValueError as error:
        raise ValueError(f"{variable} is not JSON: {error}") from None
    try:
        return read(value)
    except ValueError as error:
        raise ValueError(f"{variable}: {error}") from None


# Each field of Settings with the variable it is read from, in the README's order.
VARIABLES: tuple[tuple[dataclasses.Field[Any], Variable], ...] = tuple(
    (field, field.metadata["variable"]) for field in dataclasses.fields(Settings)
)


def environment_of(settings: Settings) -> dict[str, str]:
    """``settings`` as the variables a worker process reads them from (set ones only)."""
    exported = {}
    for field, variable in VARIABLES:
        value = getattr(settings, field.name)
        if value is None or value == ():
            continue
        if isinstance(value, bool):
            value = str(value).lower()
        elif isinstance(value, tuple):
            value = ",".join(value)
        exported[variable.name] = str(value)
    return exported


def settings_table() -> str:
    """The README's settings table, generated so that it cannot drift from the code."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for field, v in VARIABLES:
        also = f" Also read from `{'`, `'.join(v.fallbacks)}`." if v.fallbacks else ""
        if field.default is None or field.default == ():
            default = v.unset
        elif isinstance(field.default, bool):
            default = f"`{str(field.default).lower()}`"
        else:
            default = f"`{field.default}`"
        rows.append(f"| `{v.name}` | {default} | {v.doc}{also} |")
    return "\n".join(rows)
