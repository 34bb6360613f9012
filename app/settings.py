"""The service's configuration, read from the environment once at start and validated there.

Nothing else in the service reads ``os.environ``: a bad value fails the start with a message that
names the variable, instead of surfacing later as a confusing error in the middle of a request.
Every variable is listed in the README's settings table; :data:`VARIABLES` is that table's source.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlparse

Backend = Literal["local", "aws"]
CacheBackend = Literal["memory", "redis", "off"]
RetryMode = Literal["standard", "adaptive", "legacy"]
LOG_LEVELS = ("debug", "info", "warning", "error")


class SettingsError(ValueError):
    """One or more settings are invalid; the message lists each with its variable."""


@dataclass(frozen=True)
class Settings:
    backend: Backend = "local"
    region: str = "us-east-1"
    endpoint_url: str | None = None
    local_db: str = ":memory:"
    pool_size: int = 32
    connect_timeout: float = 2.0
    read_timeout: float = 10.0
    retry_mode: RetryMode = "standard"
    max_attempts: int = 3
    readiness_cache_seconds: float = 5.0
    readiness_timeout: float = 2.0
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    log_level: str = "info"
    cost_extension: bool = False
    # Limits: what one request may ask of the service (README: "Limits, errors and production
    # settings"). Each bounds a cost that the others do not.
    max_body_bytes: int = 256 * 1024
    max_tokens: int = 10_000
    max_selections: int = 1_000
    max_repeated_selections: int = 10
    max_depth: int = 12
    max_aliases: int = 100
    max_refs: int = 100
    max_first: int = 100
    max_objects: int = 5_000
    request_timeout: float = 15.0
    # Connections: a client that holds a socket without finishing a request.
    request_read_timeout: float = 10.0
    keep_alive_timeout: float = 5.0
    max_connections: int = 2_000
    shutdown_timeout: float = 20.0
    # The cache of SageMaker's answers across requests (app.cache).
    cache: CacheBackend = "memory"
    redis_url: str | None = None
    cache_namespace: str | None = None
    cache_ttl: float = 30.0
    cache_changing_ttl: float = 2.0
    cache_list_ttl: float = 10.0
    cache_not_found_ttl: float = 5.0
    cache_stale_seconds: float = 0.0
    cache_max_entries: int = 10_000
    rate_limit: str | None = None
    http_cache_authenticated: bool = False
    max_subscriptions: int = 1_000
    max_subscriptions_per_connection: int = 20
    # Production switches.
    graphiql: bool = True
    introspection: bool = True
    cors_origins: tuple[str, ...] = ()
    api_keys_file: str | None = None
    jwks_file: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        problems: list[str] = []
        for variable in VARIABLES:
            raw = variable.read(env)
            if raw is None:
                continue
            try:
                values[variable.field] = variable.parse(raw.strip())
            except ValueError as error:
                problems.append(f"{variable.name}={raw!r}: {error}")
        if values.get("cache") == "redis" and not values.get("redis_url"):
            problems.append("SMGQL_CACHE=redis needs SMGQL_REDIS_URL")
        if problems:
            raise SettingsError("invalid settings: " + "; ".join(problems))
        return cls(**values)


@dataclass(frozen=True)
class Variable:
    """One environment variable: where it goes, how it is parsed, what the README says of it."""

    name: str
    field: str
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

    @property
    def default(self) -> Any:
        return Settings.__dataclass_fields__[self.field].default


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


VARIABLES: tuple[Variable, ...] = (
    Variable(
        "SMGQL_BACKEND",
        "backend",
        _choice("local", "aws"),
        "`local`: the SageMaker-compatible local endpoint (embedded unless an endpoint URL is"
        " set); `aws`: real SageMaker through the default AWS credential chain.",
    ),
    Variable(
        "SMGQL_REGION",
        "region",
        _text,
        "AWS region of the SageMaker API.",
        ("AWS_REGION", "AWS_DEFAULT_REGION"),
    ),
    Variable(
        "SMGQL_ENDPOINT_URL",
        "endpoint_url",
        _url,
        "SageMaker endpoint URL. With `local`, a running local endpoint instead of the"
        " embedded one; with `aws`, an override such as a VPC endpoint.",
        ("AWS_ENDPOINT_URL_SAGEMAKER",),
    ),
    Variable(
        "SMGQL_LOCAL_DB",
        "local_db",
        _text,
        "SQLite file of the embedded local endpoint (`:memory:` keeps nothing).",
    ),
    Variable(
        "SMGQL_POOL_SIZE",
        "pool_size",
        _number(int, 1, 1000),
        "Concurrent SageMaker calls: the size of the HTTP connection pool to SageMaker.",
    ),
    Variable(
        "SMGQL_CONNECT_TIMEOUT",
        "connect_timeout",
        _number(float, 0.1, 120),
        "Seconds to wait for a connection to SageMaker.",
    ),
    Variable(
        "SMGQL_READ_TIMEOUT",
        "read_timeout",
        _number(float, 0.1, 300),
        "Seconds to wait for SageMaker's answer.",
    ),
    Variable(
        "SMGQL_RETRY_MODE",
        "retry_mode",
        _choice("standard", "adaptive", "legacy"),
        "botocore's retry mode.",
    ),
    Variable(
        "SMGQL_MAX_ATTEMPTS",
        "max_attempts",
        _number(int, 1, 20),
        "Attempts per SageMaker call, the first included.",
    ),
    Variable(
        "SMGQL_READINESS_CACHE_SECONDS",
        "readiness_cache_seconds",
        _number(float, 0, 3600),
        "How long `/readyz` reuses its last check of SageMaker.",
    ),
    Variable(
        "SMGQL_READINESS_TIMEOUT",
        "readiness_timeout",
        _number(float, 0.1, 60),
        "Seconds `/readyz` waits for SageMaker before it answers 503.",
    ),
    Variable("SMGQL_HOST", "host", _text, "Address the HTTP server binds."),
    Variable("SMGQL_PORT", "port", _number(int, 0, 65535), "Port the HTTP server binds."),
    Variable(
        "SMGQL_WORKERS",
        "workers",
        _workers,
        "Worker processes serving requests (`auto`: one per core). The embedded local endpoint"
        " stays one process that all workers share.",
    ),
    Variable("SMGQL_LOG_LEVEL", "log_level", _choice(*LOG_LEVELS), "Log level."),
    Variable(
        "SMGQL_COST_EXTENSION",
        "cost_extension",
        _switch,
        "Add `extensions.cost` to each response: upstream calls, cache hits, coalesced waits,"
        " retries, the estimated objects.",
    ),
    Variable(
        "SMGQL_MAX_BODY_BYTES",
        "max_body_bytes",
        _number(int, 1024, 64 * 1024 * 1024),
        "Largest request body; a larger one is refused with 413 before it is read.",
    ),
    Variable(
        "SMGQL_MAX_TOKENS",
        "max_tokens",
        _number(int, 100, 1_000_000),
        "Most tokens in a GraphQL document; parsing stops there.",
    ),
    Variable(
        "SMGQL_MAX_SELECTIONS",
        "max_selections",
        _number(int, 10, 100_000),
        "Most selections (fields, fragment spreads) in a document, checked before validation.",
    ),
    Variable(
        "SMGQL_MAX_REPEATED_SELECTIONS",
        "max_repeated_selections",
        _number(int, 2, 1000),
        "Most times one selection set may repeat a field's response name or a fragment spread"
        " (validation compares each such pair), checked before validation.",
    ),
    Variable(
        "SMGQL_MAX_DEPTH",
        "max_depth",
        _number(int, 1, 100),
        "Deepest field nesting, counted from the root fields (0).",
    ),
    Variable("SMGQL_MAX_ALIASES", "max_aliases", _number(int, 0, 10_000), "Most aliases."),
    Variable(
        "SMGQL_MAX_REFS",
        "max_refs",
        _number(int, 1, 10_000),
        "Most refs in one `imageVersions` call.",
    ),
    Variable(
        "SMGQL_MAX_FIRST",
        "max_first",
        _number(int, 1, 1000),
        "Largest page (`first`) of a connection.",
    ),
    Variable(
        "SMGQL_MAX_OBJECTS",
        "max_objects",
        _number(int, 1, 10_000_000),
        "Most objects an operation may fetch (the object budget), estimated before it runs.",
    ),
    Variable(
        "SMGQL_REQUEST_TIMEOUT",
        "request_timeout",
        _number(float, 0.1, 600),
        "Seconds a request waits for SageMaker in all; what is still outstanding then is a"
        " `DEADLINE_EXCEEDED` error.",
    ),
    Variable(
        "SMGQL_REQUEST_READ_TIMEOUT",
        "request_read_timeout",
        _number(float, 0.1, 600),
        "Seconds a client has to send a whole request (headers and body) once it connects or"
        " starts one; then the connection is closed.",
    ),
    Variable(
        "SMGQL_KEEP_ALIVE_TIMEOUT",
        "keep_alive_timeout",
        _number(float, 0.1, 600),
        "Seconds an idle keep-alive connection stays open.",
    ),
    Variable(
        "SMGQL_MAX_CONNECTIONS",
        "max_connections",
        _number(int, 1, 1_000_000),
        "Most connections and requests at once; beyond it requests get 503.",
    ),
    Variable(
        "SMGQL_SHUTDOWN_TIMEOUT",
        "shutdown_timeout",
        _number(float, 0, 600),
        "Seconds a stopping server lets requests in flight finish.",
    ),
    Variable(
        "SMGQL_CACHE",
        "cache",
        _choice("memory", "redis", "off"),
        "Where SageMaker's answers are kept across requests: `memory` (this process), `redis`"
        " (shared by replicas), `off`.",
    ),
    Variable(
        "SMGQL_REDIS_URL",
        "redis_url",
        _redis_url,
        "The Redis of `SMGQL_CACHE=redis`, e.g. `redis://127.0.0.1:6379/0`.",
        unset="none",
    ),
    Variable(
        "SMGQL_CACHE_NAMESPACE",
        "cache_namespace",
        _text,
        "Prefix of the cache's keys; by default the backend, region, endpoint and AWS account, so"
        " that only replicas that would get the same answers share them.",
        unset="derived",
    ),
    Variable(
        "SMGQL_CACHE_TTL",
        "cache_ttl",
        _number(float, 0, 86400),
        "Seconds a settled image or version (not in a transition) stays fresh; `0` keeps none.",
    ),
    Variable(
        "SMGQL_CACHE_CHANGING_TTL",
        "cache_changing_ttl",
        _number(float, 0, 86400),
        "Seconds an image or version that is CREATING, UPDATING or DELETING stays fresh.",
    ),
    Variable(
        "SMGQL_CACHE_LIST_TTL",
        "cache_list_ttl",
        _number(float, 0, 86400),
        'Seconds a list page, an alias list, or the version an alias or "latest" names stays'
        " fresh.",
    ),
    Variable(
        "SMGQL_CACHE_NOT_FOUND_TTL",
        "cache_not_found_ttl",
        _number(float, 0, 86400),
        'Seconds "not found" is remembered.',
    ),
    Variable(
        "SMGQL_CACHE_STALE_SECONDS",
        "cache_stale_seconds",
        _number(float, 0, 86400),
        "Seconds past freshness an answer is still served while one refresh runs; `0` never.",
    ),
    Variable(
        "SMGQL_CACHE_MAX_ENTRIES",
        "cache_max_entries",
        _number(int, 1, 10_000_000),
        "Most answers the in-process cache keeps (least recently used go first).",
    ),
    Variable(
        "SMGQL_RATE_LIMIT",
        "rate_limit",
        _rate,
        "Most SageMaker calls per operation, e.g. `20/second`, shared by replicas on Redis; a"
        " call over it waits (at most the request timeout).",
        unset="none",
    ),
    Variable(
        "SMGQL_HTTP_CACHE_AUTHENTICATED",
        "http_cache_authenticated",
        _switch,
        "Let browsers keep GET answers to authenticated requests (`Cache-Control: private`);"
        " off: `no-store`.",
    ),
    Variable(
        "SMGQL_MAX_SUBSCRIPTIONS",
        "max_subscriptions",
        _number(int, 1, 1_000_000),
        "Most subscriptions a process serves at once (every connection together).",
    ),
    Variable(
        "SMGQL_MAX_SUBSCRIPTIONS_PER_CONNECTION",
        "max_subscriptions_per_connection",
        _number(int, 1, 10_000),
        "Most subscriptions one WebSocket connection may hold.",
    ),
    Variable(
        "SMGQL_GRAPHIQL",
        "graphiql",
        _switch,
        "Serve GraphiQL to browsers at `/graphql`.",
    ),
    Variable(
        "SMGQL_INTROSPECTION",
        "introspection",
        _switch,
        "Answer introspection queries (`__schema`, `__type`); GraphiQL needs them.",
    ),
    Variable(
        "SMGQL_CORS_ORIGINS",
        "cors_origins",
        _origins,
        "Comma-separated origins whose browser pages may call the API; none by default.",
        unset="none",
    ),
    Variable(
        "SMGQL_API_KEYS_FILE",
        "api_keys_file",
        _readable_file,
        "File of API keys, one per line; with it (or a JWKS file) requests need a key in"
        " `X-API-Key` or `Authorization: Bearer`.",
        unset="none",
    ),
    Variable(
        "SMGQL_JWKS_FILE",
        "jwks_file",
        _readable_file,
        "JWKS file; with it, `Authorization: Bearer <JWT>` signed by one of its keys is accepted.",
        unset="none",
    ),
    Variable(
        "SMGQL_JWT_AUDIENCE",
        "jwt_audience",
        _text,
        "The `aud` a JWT must carry.",
        unset="none",
    ),
    Variable(
        "SMGQL_JWT_ISSUER",
        "jwt_issuer",
        _text,
        "The `iss` a JWT must carry.",
        unset="none",
    ),
)


def settings_table() -> str:
    """The README's settings table, generated so that it cannot drift from the code."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for v in VARIABLES:
        also = f" Also read from `{'`, `'.join(v.fallbacks)}`." if v.fallbacks else ""
        if v.default is None or v.default == ():
            default = v.unset
        elif isinstance(v.default, bool):
            default = f"`{str(v.default).lower()}`"
        else:
            default = f"`{v.default}`"
        rows.append(f"| `{v.name}` | {default} | {v.doc}{also} |")
    return "\n".join(rows)
