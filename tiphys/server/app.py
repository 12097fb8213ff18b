"""The Starlette application: routes of every resource, the controller started and stopped
with the app's lifespan, API errors turned into grpc-gateway JSON."""
from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse

from tiphys.errors import TiphysError
from tiphys.server import auth, info, metrics, objects, openapi, operations, templates, workflows
from tiphys.server import ui
from tiphys.cron import api as cron_api
from tiphys.events import api as events_api
from tiphys.events.service import start_events
from tiphys.server.common import State
from tiphys.server.controller import Controller
from tiphys.server.errors import INTERNAL, NOT_FOUND, UNIMPLEMENTED, ApiError, invalid
from tiphys.server.hub import Hub
from tiphys.store import open_store
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


def create_app(home: Path, *, parallelism: int = 8, executor_factory=None, auth_mode: str = "server",
               store_url: str | None = None, namespace_parallelism: int | None = None,
               runs_workflows: bool = True, events_host: str = "127.0.0.1") -> Starlette:
    """The app over TIPHYS_HOME `home`; the controller runs while the app's lifespan does.
    `auth_mode` "client" requires bearer tokens (server/auth.py). `store_url` (tiphys.store.open_store)
    puts the state elsewhere than home/tiphys.db, e.g. in PostgreSQL; logs and artifacts stay in home."""
    home = Path(home)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = open_store(store_url) if store_url else Store(home / "tiphys.db")
        hub = Hub()
        controller = Controller(store, home, parallelism=parallelism, hub=hub, executor_factory=executor_factory,
                                namespace_parallelism=namespace_parallelism, runs_workflows=runs_workflows)
        controller.start()
        app.state.tiphys = State(store=store, home=home, controller=controller, hub=hub)
        app.state.metrics = metrics.Metrics(app.state.tiphys)
        app.state.cron = cron_api.start_scheduler(store, controller)
        app.state.events = start_events(store, home, controller, events_host)
        try:
            yield
        finally:
            app.state.events.close()
            if app.state.cron is not None:
                app.state.cron.close()
            controller.close()
            store.close()

    routes = (auth.ROUTES + workflows.ROUTES + operations.ROUTES + templates.ROUTES + objects.routes() + cron_api.ROUTES
              + events_api.ROUTES + info.ROUTES + openapi.ROUTES + metrics.ROUTES + ui.ROUTES)
    return Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(auth.AuthMiddleware, mode=auth_mode)],
                     exception_handlers={ApiError: _api_error, TiphysError: _tiphys_error,
                                         HTTPException: _http_error})
