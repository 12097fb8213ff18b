"""REST routes for the kinds of tiphys/objects/kinds.py that Argo Server has no API for
(ConfigMap, Secret): `/api/v1/<rest>/{namespace}` — GET lists, POST applies (create or
update; body `{"object": manifest}`, answer `{"action": "created"|"configured", "object"}`),
GET/DELETE `/{name}`. Namespaced paths, so namespace-scoped tokens apply (server/auth.py).
A Secret is answered with its key names only, never its values."""
from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tiphys.errors import SpecError
from tiphys.objects import kinds
from tiphys.server.common import state
from tiphys.server.errors import invalid, json_body, not_found


def _routes(kind: kinds.Kind) -> list[Route]:
    base = f"/api/v1/{kind.rest}/{{namespace}}"

    def ctx(request: Request) -> kinds.Context:
        st = state(request)
        return kinds.Context(st.store, st.home)

    async def list_(request: Request) -> JSONResponse:
        items = kind.list(ctx(request), request.path_params["namespace"])
        return JSONResponse({"metadata": {}, "items": items})

    async def apply(request: Request) -> JSONResponse:
        body = (await json_body(request)).get("object")
        if not isinstance(body, dict):
            raise invalid(f'the body must be {{"object": <{kind.kind} manifest>}}')
        if body.get("kind", kind.kind) != kind.kind:
            raise invalid(f"{body.get('kind')!r} sent to the {kind.kind} API")
        try:
            body = kinds.namespace_of({**body, "kind": kind.kind}, kind, request.path_params["namespace"])
        except SpecError as exc:
            raise invalid(str(exc)) from None
        c = ctx(request)
        meta = body["metadata"]
        existed = kind.get(c, meta["namespace"], meta["name"]) is not None
        shown = kind.apply(c, body)
        return JSONResponse({"action": "configured" if existed else "created", "object": shown})

    async def get(request: Request) -> JSONResponse:
        p = request.path_params
        found = kind.get(ctx(request), p["namespace"], p["name"])
        if found is None:
            raise not_found(kind.kind, p["name"])
        return JSONResponse(found)

    async def delete(request: Request) -> JSONResponse:
        p = request.path_params
        if not kind.delete(ctx(request), p["namespace"], p["name"]):
            raise not_found(kind.kind, p["name"])
        return JSONResponse({})

    return [Route(base, list_, methods=["GET"]), Route(base, apply, methods=["POST"]),
            Route(base + "/{name}", get, methods=["GET"]), Route(base + "/{name}", delete, methods=["DELETE"])]


def routes() -> list[Route]:
    kinds.of_manifest("ConfigMap")   # loads the registered plugins
    found: list[Route] = []
    for kind in kinds.KINDS.values():
        if kind.rest:
            found += _routes(kind)
    return found
