"""GraphiQL served by the service itself, with its own copies of GraphiQL's browser bundles.

Strawberry's built-in page loads GraphiQL from a CDN, so it stays blank wherever the browser has
no internet (an air-gapped network, this project's CI). The bundles here come from npm, pinned by
``package-lock.json`` beside this file and installed by ``scripts/bootstrap``. Where they are not
installed (a bare ``pip install``), :func:`installed` is false and the service falls back to
strawberry's CDN page, so the API itself never depends on them.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from strawberry.http.ides import get_graphql_ide_html

HERE = Path(__file__).parent
ASSETS_PATH = "/graphiql"

# The files the page loads: URL name -> path under node_modules. Nothing else is served.
ASSETS = {
    "graphiql.min.js": "graphiql/graphiql.min.js",
    "graphiql.min.css": "graphiql/graphiql.min.css",
    "react.production.min.js": "react/umd/react.production.min.js",
    "react-dom.production.min.js": "react-dom/umd/react-dom.production.min.js",
    "plugin-explorer.umd.js": "@graphiql/plugin-explorer/dist/index.umd.js",
    "plugin-explorer.css": "@graphiql/plugin-explorer/dist/style.css",
}


def installed() -> bool:
    return all((HERE / "node_modules" / path).is_file() for path in ASSETS.values())


@cache
def page() -> str:
    return (HERE / "page.html").read_text(encoding="utf-8").replace("{assets}", ASSETS_PATH)


def cdn_page() -> str:
    """Strawberry's GraphiQL page, which loads its bundles from a CDN."""
    return get_graphql_ide_html("graphiql")


def _inline_script_hashes(html: str) -> str:
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    digests = (base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() for s in scripts)
    return " ".join(f"'sha256-{digest}'" for digest in digests)


# The page runs this service's bundles and its own inline script (by hash) and nothing else; it
# may talk to this origin only, and no other page may frame it (clickjacking). GraphiQL sets
# inline styles, hence 'unsafe-inline' for styles alone.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; script-src 'self' {_inline_script_hashes(page())}; "
        "style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; "
        "font-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def asset(request: Request) -> Response:
    path = ASSETS.get(request.path_params["name"])
    if path is None:
        return PlainTextResponse("Not Found", status_code=404)
    # The versions are pinned by the lock file, so a browser may keep them for a day.
    return FileResponse(
        HERE / "node_modules" / path,
        headers={"Cache-Control": "max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
