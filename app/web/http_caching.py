"""HTTP caching of GraphQL answers to GET: ``Cache-Control`` from what the answer holds,
``ETag`` and ``304 Not Modified``, and ``Vary``.

A browser or CDN may keep a GET answer for as long as the shortest-lived SageMaker answer in
it stays fresh (the cache's TTLs, noted per request). An answer with an error is never kept
(``no-store``): errors are per request. An answer to an authenticated request is kept by nobody
(``no-store``) unless ``SMGQL_HTTP_CACHE_AUTHENTICATED`` allows the browser to keep it
(``private``): a shared cache must never hand one user's answer to another. Without the
service's cache there is no freshness to go by, and an answer says ``no-cache``: keep it, but ask
again (an ``ETag`` makes that cheap). POST answers are ``no-store``, as HTTP caches treat them.
"""

from __future__ import annotations

import hashlib
import math

from starlette.datastructures import Headers


def cache_control(
    method: str, ok: bool, fresh_for: float, authenticated: bool, keep_authenticated: bool
) -> str:
    if method not in ("GET", "HEAD") or not ok or (authenticated and not keep_authenticated):
        return "no-store"
    if math.isinf(fresh_for):
        return "no-cache"
    scope = "private" if authenticated else "public"
    return f"{scope}, max-age={max(int(fresh_for), 0)}"


def vary(authentication: bool) -> str:
    # The media type answered depends on Accept; the answer itself on whether a federated
    # trace was asked for, and on the credential.
    varies = "Accept, Apollo-Federation-Include-Trace"
    return f"{varies}, Authorization, X-API-Key" if authentication else varies


def etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def not_modified(headers: Headers, tag: str) -> bool:
    """Whether the client's If-None-Match names ``tag`` (or is ``*``)."""
    wanted = headers.get("if-none-match")
    if wanted is None:
        return False
    tags = {part.strip().removeprefix("W/") for part in wanted.split(",")}
    return tag in tags or "*" in tags
