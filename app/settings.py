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
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"

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
        "Concurrent SageMaker calls: the HTTP connection pool and the worker threads.",
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
    Variable("SMGQL_HOST", "host", _text, "Address the HTTP server binds."),
    Variable("SMGQL_PORT", "port", _number(int, 0, 65535), "Port the HTTP server binds."),
    Variable("SMGQL_LOG_LEVEL", "log_level", _choice(*LOG_LEVELS), "Log level."),
)


def settings_table() -> str:
    """The README's settings table, generated so that it cannot drift from the code."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for v in VARIABLES:
        also = f" Also read from `{'`, `'.join(v.fallbacks)}`." if v.fallbacks else ""
        default = "embedded" if v.default is None else f"`{v.default}`"
        rows.append(f"| `{v.name}` | {default} | {v.doc}{also} |")
    return "\n".join(rows)
