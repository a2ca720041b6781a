"""Routes of the web UI: the HTML shell for every `/ui` path and the static assets.

The UI talks to the JSON API with the token the user pastes, so these routes need no token
and are left out of the OpenAPI document. Assets are read once from the package (a fixed
set of files, so a request path can never reach outside `static/`) and answered with an
ETag so browsers revalidate cheaply.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import RedirectResponse

UI_PREFIX = "/ui"
ASSETS_PREFIX = f"{UI_PREFIX}/assets"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".png": "image/png",
}

# Everything the UI needs comes from Herald itself; the API is same-origin.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def _walk(folder: Traversable, prefix: str = "") -> dict[str, Asset]:
    found: dict[str, Asset] = {}
    for entry in folder.iterdir():
        name = f"{prefix}{entry.name}"
        if entry.is_dir():
            found.update(_walk(entry, f"{name}/"))
            continue
        suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
        content_type = CONTENT_TYPES.get(suffix)
        if content_type is None:
            continue
        body = entry.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        found[name] = Asset(body, content_type, etag)
    return found


@cache
def assets() -> dict[str, Asset]:
    """Every servable file under `static/`, keyed by its path relative to it."""
    return _walk(resources.files("herald.web") / "static")


def _answer(request: Request, asset: Asset) -> Response:
    headers = {**SECURITY_HEADERS, "ETag": asset.etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.content_type, headers=headers)


router = APIRouter(include_in_schema=False)


@router.api_route("/", methods=["GET", "HEAD"])
def root() -> RedirectResponse:
    return RedirectResponse(f"{UI_PREFIX}/", status_code=307)


@router.api_route(ASSETS_PREFIX + "/{path:path}", methods=["GET", "HEAD"])
def asset(path: str, request: Request) -> Response:
    found = assets().get(path)
    if found is None:
        # The app's handler answers in the API's one error shape (`not_found`).
        raise HTTPException(404, f"no UI asset {path!r}")
    return _answer(request, found)


@router.api_route(UI_PREFIX, methods=["GET", "HEAD"])
@router.api_route(UI_PREFIX + "/{path:path}", methods=["GET", "HEAD"])
def shell(request: Request, path: str = "") -> Response:
    """The single page; the browser-side router picks the view from the URL."""
    return _answer(request, assets()["index.html"])
