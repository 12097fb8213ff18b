"""WorkflowTemplate and ClusterWorkflowTemplate routes: create, get, list, update, delete, lint."""
from __future__ import annotations

import inspect
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tiphys import selectors
from tiphys.server.common import check_name, lint, state, with_kind
from tiphys.server.errors import already_exists, invalid, json_body, not_found
from tiphys.store.sqlite import CLUSTER_WORKFLOW_TEMPLATE, WORKFLOW_TEMPLATE


def _ns(request: Request, kind: str) -> str | None:
    return None if kind == CLUSTER_WORKFLOW_TEMPLATE else request.path_params.get("namespace") or None


def _present(tmpl: dict) -> dict:
    meta = tmpl.setdefault("metadata", {})
    meta.setdefault("resourceVersion", "1")
    return tmpl


def _prepare(request: Request, body: dict, kind: str, field: str = "template") -> dict:
    tmpl = with_kind(body.get(field), kind, field)
    meta = tmpl["metadata"]
    ns = _ns(request, kind)
    if ns is not None:
        meta["namespace"] = ns
    else:
        meta.pop("namespace", None)
    if not meta.get("name"):
        if meta.get("generateName"):
            from tiphys.naming import generated_name
            store = state(request).store
            meta["name"] = generated_name(meta["generateName"],
                                          lambda n: store.get_template(kind, n, ns or "default") is not None)
        else:
            raise invalid("metadata.name or metadata.generateName is required")
    check_name(str(meta["name"]))
    lint(tmpl, kind, ns or "default", state(request).store)
    return tmpl


def handlers(kind: str, field: str = "template", hooks: Any = None) -> dict[str, Any]:
    """CRUD + lint of a stored kind; the body names the object `field` (Argo's `template`,
    `cronWorkflow`, `sensor`...). `hooks` (optional) has check(request, obj), changed(request,
    obj, old) and deleted(request, namespace, name), called around the store's writes."""
    def prepare(request: Request, body: dict) -> dict:
        obj = _prepare(request, body, kind, field)
        if hooks is not None:
            hooks.check(request, obj)
        return obj

    async def create(request: Request) -> JSONResponse:
        body = await json_body(request)
        tmpl = prepare(request, body)
        store = state(request).store
        name, ns = tmpl["metadata"]["name"], _ns(request, kind)
        if store.get_template(kind, name, ns) is not None:
            raise already_exists(kind, name)
        tmpl["metadata"]["uid"] = str(uuid.uuid4())
        tmpl["metadata"].pop("creationTimestamp", None)
        if "All" in ((body.get("createOptions") or {}).get("dryRun") or []):
            return JSONResponse(_present(tmpl))
        saved = store.save_template(kind, tmpl)
        if hooks is not None:
            hooks.changed(request, saved, None)
        return JSONResponse(_present(saved))

    async def get(request: Request) -> JSONResponse:
        name = request.path_params["name"]
        tmpl = state(request).store.get_template(kind, name, _ns(request, kind))
        if tmpl is None:
            raise not_found(kind, name)
        return JSONResponse(_present(tmpl))

    async def list_(request: Request) -> JSONResponse:
        q = request.query_params
        accept_labels = selectors.label_selector(q.get("listOptions.labelSelector"))
        accept_fields = selectors.field_selector(q.get("listOptions.fieldSelector"), q.get("nameFilter"))
        found = [_present(t) for t in state(request).store.list_templates(kind, _ns(request, kind))
                 if accept_labels(t) and accept_fields(t)]
        page, token = selectors.paginate(found, q.get("listOptions.limit"), q.get("listOptions.continue"))
        metadata: dict[str, Any] = {"resourceVersion": "1"}
        if token:
            metadata["continue"] = token
        return JSONResponse({"metadata": metadata, "items": page or None})

    async def update(request: Request) -> JSONResponse:
        name = request.path_params["name"]
        body = await json_body(request)
        store = state(request).store
        old = store.get_template(kind, name, _ns(request, kind))
        if old is None:
            raise not_found(kind, name)
        tmpl = body.get(field)
        if isinstance(tmpl, dict):
            tmpl = {**tmpl, "metadata": {**(tmpl.get("metadata") or {}), "name": name}}
        tmpl = prepare(request, {field: tmpl})
        old_meta = old.get("metadata") or {}
        for key in ("uid", "creationTimestamp"):
            if old_meta.get(key):
                tmpl["metadata"][key] = old_meta[key]
        tmpl["metadata"]["resourceVersion"] = str(int(old_meta.get("resourceVersion") or 1) + 1)
        if old.get("status") and not tmpl.get("status"):
            tmpl["status"] = old["status"]      # kinds with a status (CronWorkflow, Sensor) keep it
        saved = store.save_template(kind, tmpl)
        if hooks is not None:
            hooks.changed(request, saved, old)
        return JSONResponse(_present(saved))

    async def delete(request: Request) -> JSONResponse:
        name = request.path_params["name"]
        if not state(request).store.delete_template(kind, name, _ns(request, kind)):
            raise not_found(kind, name)
        if hooks is not None:
            done = hooks.deleted(request, _ns(request, kind) or "default", name)
            if inspect.isawaitable(done):    # a hook may act on the controller (async)
                await done
        return JSONResponse({})

    async def lint_(request: Request) -> JSONResponse:
        body = await json_body(request)
        return JSONResponse(_present(prepare(request, body)))

    return {"create": create, "get": get, "list": list_, "update": update, "delete": delete, "lint": lint_}


def _routes(base: str, kind: str, field: str = "template", hooks: Any = None) -> list[Route]:
    h = handlers(kind, field, hooks)
    return [
        Route(base, h["list"], methods=["GET"]),
        Route(base, h["create"], methods=["POST"]),
        Route(base + "/lint", h["lint"], methods=["POST"]),
        Route(base + "/{name}", h["get"], methods=["GET"]),
        Route(base + "/{name}", h["update"], methods=["PUT"]),
        Route(base + "/{name}", h["delete"], methods=["DELETE"]),
    ]


ROUTES = (_routes("/api/v1/workflow-templates/{namespace}", WORKFLOW_TEMPLATE)
          + _routes("/api/v1/cluster-workflow-templates", CLUSTER_WORKFLOW_TEMPLATE))
