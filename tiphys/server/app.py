"""The Starlette application: routes of every resource, the controller started and stopped
with the app's lifespan, API errors turned into grpc-gateway JSON."""
from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from tiphys.errors import TiphysError
from tiphys.server import info, openapi, templates, workflows
from tiphys.server.common import State
from tiphys.server.controller import Controller
from tiphys.server.errors import INTERNAL, NOT_FOUND, UNIMPLEMENTED, ApiError, invalid
from tiphys.server.hub import Hub
from tiphys.store.sqlite import Store

log = logging.getLogger("tiphys.server")


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _tiphys_error(request: Request, exc: Exception) -> JSONResponse:
    from tiphys.errors import InfrastructureError, NotFoundError
    if isinstance(exc, NotFoundError):
        return ApiError(NOT_FOUND, str(exc)).response()
    if isinstance(exc, InfrastructureError):
        return ApiError(INTERNAL, str(exc)).response()
    return invalid(str(exc)).response()


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = {404: NOT_FOUND, 405: UNIMPLEMENTED}.get(exc.status_code, INTERNAL)
    message = "Not Found" if exc.status_code == 404 else str(exc.detail)
    return JSONResponse({"code": code, "message": message}, status_code=exc.status_code)


def create_app(home: Path, *, parallelism: int = 8, executor_factory=None) -> Starlette:
    """The app over TIPHYS_HOME `home`; the controller runs while the app's lifespan does."""
    home = Path(home)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = Store(home / "tiphys.db")
        hub = Hub()
        controller = Controller(store, home, parallelism=parallelism, hub=hub, executor_factory=executor_factory)
        controller.start()
        app.state.tiphys = State(store=store, home=home, controller=controller, hub=hub)
        try:
            yield
        finally:
            controller.close()
            store.close()

    routes = workflows.ROUTES + templates.ROUTES + info.ROUTES + openapi.ROUTES
    return Starlette(routes=routes, lifespan=lifespan,
                     exception_handlers={ApiError: _api_error, TiphysError: _tiphys_error,
                                         HTTPException: _http_error})
