"""HTTP caching of GraphQL answers to GET: ``Cache-Control`` from what the answer holds,
``ETag`` and ``304 Not Modified``, and ``Vary``.

A browser or CDN may keep a GET answer for as long as the shortest-lived SageMaker answer in
it stays fresh (the cache's TTLs, noted per request). An answer with an error is never kept
(``no-store``): errors are per request. An answer to an authenticated request is kept by nobody
(``no-store``) unless ``SMGQL_HTTP_CACHE_AUTHENTICATED`` allows the browser to keep it
(``private``): a shared cache must never hand one user's answer to another. Without the
service's cache there is no freshness to go by, and an answer says ``no-cache``: keep it, but ask
again (an ``ETag`` makes that cheap). POST answers are ``no-store``, as HTTP caches treat them.

Answers made afresh and answers sent from the response cache get their headers here alike.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class HttpCaching:
    """The caching headers of a service's answers: ``authentication`` says whether requests
    carry credentials (answers then vary by them), ``keep_authenticated`` whether a browser may
    keep an answer to an authenticated request."""

    authentication: bool
    keep_authenticated: bool

    def headers(
        self, method: str, status: int, body: bytes, ok: bool, fresh_for: float, authenticated: bool
    ) -> dict[str, str]:
        """``Cache-Control`` and ``Vary`` of an answer with ``status`` and ``body`` to a
        ``method`` request, and its ``ETag`` when it is a GET's 200; ``ok`` when it holds data
        and no error, fresh for ``fresh_for`` seconds."""
        headers = {
            "cache-control": self.cache_control(method, ok, fresh_for, authenticated),
            "vary": self.vary(),
        }
        if method in ("GET", "HEAD") and status == 200:
            headers["etag"] = etag(body)
        return headers

    def cache_control(self, method: str, ok: bool, fresh_for: float, authenticated: bool) -> str:
        kept_by_nobody = authenticated and not self.keep_authenticated
        if method not in ("GET", "HEAD") or not ok or kept_by_nobody:
            return "no-store"
        if math.isinf(fresh_for):
            return "no-cache"
        scope = "private" if authenticated else "public"
        return f"{scope}, max-age={max(int(fresh_for), 0)}"

    def vary(self) -> str:
        # The media type answered depends on Accept; the answer itself on whether a federated
        # trace was asked for, and on the credential.
        varies = "Accept, Apollo-Federation-Include-Trace"
        return f"{varies}, Authorization, X-API-Key" if self.authentication else varies


def etag(body: bytes) -> str:
    # 128 bits of BLAKE2b (cheaper to make than OpenSSL's SHA-256, see app.cache.responses).
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def not_modified(if_none_match: str | None, tag: str) -> bool:
    """Whether a client whose If-None-Match is ``if_none_match`` has the answer tagged ``tag``
    (it names it, or says ``*``)."""
    if if_none_match is None:
        return False
    tags = {part.strip().removeprefix("W/") for part in if_none_match.split(",")}
    return tag in tags or "*" in tags
