"""The web UI: `/` serves the single page, `/ui/...` its static assets (plain ES modules and
vendored libraries under `static/`, shipped as package data; no build step, no request leaves
the machine: the page's Content-Security-Policy only allows this server).

The UI is a client of the server's Argo-shaped REST API only (see static/js/api.js)."""
from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
PREFIX = "/ui"  # static assets; reachable without a token, like `/`

# Everything the page loads comes from this server; fetches and workers too.
CSP = ("default-src 'self'; script-src 'self'; worker-src 'self'; connect-src 'self'; "
       "img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'; form-action 'none'")


async def index(request: Request) -> FileResponse:
    """The single page; views are chosen client-side from the URL fragment (`#/workflows/...`)."""
    return FileResponse(STATIC / "index.html", media_type="text/html",
                        headers={"Cache-Control": "no-cache", "Content-Security-Policy": CSP,
                                 "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})


class _Static(StaticFiles):
    """Static files with JavaScript served as such whatever the host's mime table says
    (module scripts and module workers are refused otherwise)."""

    def file_response(self, full_path, stat_result, scope, status_code=200):
        response = super().file_response(full_path, stat_result, scope, status_code)
        if str(full_path).endswith(".js"):
            response.headers["content-type"] = "text/javascript; charset=utf-8"
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


ROUTES: list[BaseRoute] = [
    Route("/", index, methods=["GET", "HEAD"]),
    Mount(PREFIX, app=_Static(directory=STATIC), name="ui"),
]
