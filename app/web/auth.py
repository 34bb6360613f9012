"""Optional authentication: API keys from a file, and bearer JWTs checked against a JWKS file.

Off unless ``SMGQL_API_KEYS_FILE`` or ``SMGQL_JWKS_FILE`` is set. When on, every request needs a
credential: an API key in ``X-API-Key`` or ``Authorization: Bearer <key>``, or a JWT in
``Authorization: Bearer <jwt>`` signed by a key of the JWKS (with the audience and issuer the
settings name). A request without one gets 401 ``UNAUTHENTICATED``. Only the health probes,
GraphiQL's page and its bundles, and CORS preflights stay open: an orchestrator probes without
credentials, a browser cannot send headers for a page load, and GraphiQL's headers editor carries
the credential for its queries. Everything else, ``/metrics`` included, is guarded, so a route
added later is not left open by mistake.

A JWT's ``exp`` is required, and its ``exp``, ``iat`` and ``nbf`` must be numbers (PyJWT reads
them with ``int()``, which takes ``"9999999999"``); they are judged by the injected clock, and a
token valid for longer than the maximum lifetime is refused, so a leaked token cannot serve for
years. :class:`Identity` carries the expiry, for a WebSocket session to end at it.

API keys are compared as SHA-256 digests with ``hmac.compare_digest`` against every key, so
neither a key's length nor how much of it matched shows in the time an answer takes. They are
compared before a token is read as a JWT, so a key with two dots stays usable with a JWKS.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import ErrorCode, Refusal
from app.web.middleware import log_fields

log = logging.getLogger("app.web.auth")

# Signature algorithms a JWKS key may name; never "none", never a shared-secret HMAC.
ASYMMETRIC_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)


@dataclass(frozen=True)
class Identity:
    """Who presented a valid credential, and until when it holds: a JWT's ``exp`` (seconds of
    the credentials' clock), None for an API key, which does not expire."""

    principal: str
    expires_at: float | None


@dataclass(frozen=True)
class Credentials:
    """What the service accepts: digests of its API keys, and the JWKS for bearer JWTs."""

    key_digests: tuple[bytes, ...]
    jwks: jwt.PyJWKSet | None
    audience: str | None
    issuer: str | None
    # Seconds a JWT may be valid for in all: exp - iat, or exp - now without iat.
    max_lifetime: float
    # Seconds since the epoch, as time.time: what a JWT's exp, iat and nbf are judged by.
    clock: Callable[[], float] = time.time

    @classmethod
    def load(
        cls,
        api_keys_file: str | None,
        jwks_file: str | None,
        audience: str | None,
        issuer: str | None,
        max_lifetime: float,
        clock: Callable[[], float] = time.time,
    ) -> Credentials:
        """The credentials the files hold: API keys one per line (``#`` comments), a JWKS, the
        audience and issuer a JWT must name and the longest it may be valid for."""
        keys: tuple[bytes, ...] = ()
        if api_keys_file is not None:
            lines = Path(api_keys_file).read_text(encoding="utf-8").splitlines()
            keys = tuple(
                _digest(line.strip())
                for line in lines
                if line.strip() and not line.lstrip().startswith("#")
            )
        jwks = None
        if jwks_file is not None:
            jwks = jwt.PyJWKSet.from_json(Path(jwks_file).read_text(encoding="utf-8"))
        return cls(keys, jwks, audience, issuer, max_lifetime, clock)

    def identify(self, headers: Headers) -> Identity | None:
        """Who presented the request's credential, and until when; None when it has no valid
        one (now, by the clock)."""
        token = headers.get("x-api-key") or _bearer(headers.get("authorization", ""))
        if not token:
            return None
        # Every token is compared with every key first, whatever its shape: a key may hold two
        # dots, and the comparison costs the same whether it matches or not.
        key = self._api_key(token)
        if key is not None or self.jwks is None or token.count(".") != 2:
            return key
        return self._jwt(token)

    def _api_key(self, token: str) -> Identity | None:
        presented = _digest(token)
        matched = None
        for index, digest in enumerate(self.key_digests):
            if hmac.compare_digest(presented, digest):
                matched = Identity(f"api-key:{index + 1}", None)
        return matched

    def _jwt(self, token: str) -> Identity | None:
        assert self.jwks is not None
        try:
            key_id = jwt.get_unverified_header(token).get("kid")
            key = self.jwks[key_id] if key_id else _only_key(self.jwks)
            algorithm = key.algorithm_name
            if algorithm not in ASYMMETRIC_ALGORITHMS:
                return None
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                # The times are judged below, by the clock and strictly as numbers.
                options={
                    "require": ["exp"],
                    "verify_aud": self.audience is not None,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
            expires_at = self._expiry(claims)
        except (jwt.PyJWTError, KeyError, ValueError):
            return None
        return Identity(f"jwt:{claims.get('sub', '?')}", expires_at)

    def _expiry(self, claims: dict[str, Any]) -> float:
        """The token's ``exp``, once its times hold now: numbers, not expired, issued and valid
        already, and valid for no longer than the maximum lifetime."""
        now = self.clock()
        expires_at = _numeric_date(claims, "exp", now)
        issued_at = _numeric_date(claims, "iat", now)
        if expires_at <= now:
            raise jwt.ExpiredSignatureError("expired")
        if issued_at > now or _numeric_date(claims, "nbf", now) > now:
            raise jwt.ImmatureSignatureError("not valid yet")
        if expires_at - issued_at > self.max_lifetime:
            raise jwt.InvalidTokenError("valid for longer than the maximum lifetime")
        return expires_at


def _numeric_date(claims: dict[str, Any], name: str, absent: float) -> float:
    """The claim as RFC 7519's NumericDate (a JSON number: not a string, a boolean or null), or
    ``absent`` when the token has none."""
    value = claims.get(name, absent)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise jwt.InvalidTokenError(f"{name} is not a number")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        number = math.inf
    # Python's JSON reader takes NaN and Infinity.
    if not math.isfinite(number):
        raise jwt.InvalidTokenError(f"{name} is not a finite number")
    return number


def _only_key(jwks: jwt.PyJWKSet) -> jwt.PyJWK:
    if len(jwks.keys) != 1:
        raise KeyError("a JWT without kid needs a JWKS of one key")
    return jwks.keys[0]


def _bearer(authorization: str) -> str | None:
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class Authentication:
    """Refuse HTTP requests without a valid credential but those that stay open (see the
    module's docstring); WebSocket connections identify themselves in ``connection_init``."""

    def __init__(
        self,
        app: ASGIApp,
        credentials: Credentials,
        page_path: str,
        open_paths: frozenset[str],
        open_prefix: str,
    ) -> None:
        self.app = app
        self.credentials = credentials
        # Where GraphiQL's page loads (GraphQL's own path).
        self.page_path = page_path
        # The health probes.
        self.open_paths = open_paths
        # GraphiQL's bundles.
        self.open_prefix = open_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._guarded(scope):
            await self.app(scope, receive, send)
            return
        identity = self.credentials.identify(Headers(scope=scope))
        if identity is None:
            await self._refusal(scope)(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = identity.principal
        log_fields(scope)["principal"] = identity.principal
        await self.app(scope, receive, send)

    def _guarded(self, scope: Scope) -> bool:
        path = scope["path"]
        if (
            scope["method"] == "OPTIONS"
            or path in self.open_paths
            or path.startswith(self.open_prefix)
        ):
            return False
        # GraphiQL's page: a browser's GET for HTML with no query.
        page_load = (
            path == self.page_path
            and scope["method"] in ("GET", "HEAD")
            and not scope.get("query_string")
            and "text/html" in Headers(scope=scope).get("accept", "")
        )
        return not page_load

    def _refusal(self, scope: Scope) -> Refusal:
        headers = Headers(scope=scope)
        if headers.get("authorization") or headers.get("x-api-key"):
            message = (
                "The credential is not valid: an unknown API key, or a JWT that is expired, not "
                "valid yet, valid for longer than this service accepts, without numeric exp, iat "
                "or nbf, or not for this service."
            )
        else:
            message = (
                "This service needs a credential: an API key in X-API-Key or "
                "Authorization: Bearer, or a bearer JWT."
            )
        log_fields(scope)["errorCodes"] = [ErrorCode.UNAUTHENTICATED.value]
        challenge = {"WWW-Authenticate": 'Bearer realm="sagemaker-images"'}
        return Refusal(401, message, ErrorCode.UNAUTHENTICATED, challenge)
