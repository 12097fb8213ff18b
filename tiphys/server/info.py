"""Server information routes: /api/v1/info, /api/v1/version (userinfo is in server/auth.py)."""
from __future__ import annotations

import platform
import sys

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

# The Argo release whose API this server follows.
ARGO_API = "v3.6"


def version_info() -> dict:
    from tiphys import __version__
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return {"version": f"{ARGO_API}-tiphys.{__version__}", "buildDate": "", "gitCommit": "", "gitTag": "",
            "gitTreeState": "", "goVersion": f"python{sys.version.split()[0]}", "compiler": "cpython",
            "platform": f"{sys.platform}/{machine}"}


async def info(request: Request) -> JSONResponse:
    """Server information as the UI reads it."""
    return JSONResponse({"managedNamespace": "", "links": [], "modals": {}, "navColor": "", "columns": []})


async def version(request: Request) -> JSONResponse:
    """The server's version."""
    return JSONResponse(version_info())


ROUTES = [
    Route("/api/v1/info", info, methods=["GET"]),
    Route("/api/v1/version", version, methods=["GET"]),
]
