"""/openapi.json: an OpenAPI 3 document generated from the routes this server serves."""
from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

STREAMS = ("/log", "/workflow-events")


def document(routes: list, version: str) -> dict:
    paths: dict[str, dict] = {}
    for route in routes:
        if not isinstance(route, Route) or route.path == "/openapi.json":
            continue
        params = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                  for p in re.findall(r"{(\w+)}", route.path)]
        doc = (route.endpoint.__doc__ or route.name or "").strip().splitlines()
        streaming = any(s in route.path for s in STREAMS)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            op = {"operationId": f"{method.lower()}_{route.name}",
                  "summary": doc[0] if doc else route.name,
                  "parameters": params,
                  "responses": {"200": {"description": "newline-delimited JSON stream of {\"result\": ...}"
                                        if streaming else "the resource (Argo's JSON shape)",
                                        "content": {"application/json": {"schema": {"type": "object"}}}},
                                "default": {"description": "grpc-gateway error",
                                            "content": {"application/json": {"schema": {
                                                "$ref": "#/components/schemas/Error"}}}}}}
            if method in ("POST", "PUT"):
                op["requestBody"] = {"content": {"application/json": {"schema": {"type": "object"}}}}
            paths.setdefault(route.path, {})[method.lower()] = op
    return {"openapi": "3.0.3",
            "info": {"title": "Tiphys (Argo Server API)", "version": version,
                     "description": "The subset of Argo Server's REST API that Tiphys serves."},
            "paths": paths,
            "components": {"schemas": {"Error": {"type": "object", "properties": {
                "code": {"type": "integer"}, "message": {"type": "string"}}}}}}


async def openapi(request: Request) -> JSONResponse:
    """This document."""
    from tiphys.server.info import version_info
    return JSONResponse(document(request.app.routes, version_info()["version"]))


ROUTES = [Route("/openapi.json", openapi, methods=["GET"])]
