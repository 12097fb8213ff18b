"""Workflow routes: create, list, get, delete, stop, terminate, logs, lint, submit, watch."""
from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from tiphys.errors import TiphysError
from tiphys import selectors
from tiphys.server.common import API_VERSION, check_name, lint, present, prepare_workflow, state
from tiphys.server.errors import FAILED_PRECONDITION, ApiError, already_exists, invalid, json_body, not_found
from tiphys.store import logfiles
from tiphys.store.sqlite import CLUSTER_WORKFLOW_TEMPLATE, COMPLETED_PHASES, WORKFLOW_TEMPLATE

LOG_POLL = 0.2
STREAM_TYPE = "application/json"


def _current(request: Request, namespace: str, name: str) -> dict | None:
    st = state(request)
    return st.controller.snapshot(namespace, name) or st.store.get_workflow(name, namespace)


def _get_or_404(request: Request, namespace: str, name: str) -> dict:
    wf = _current(request, namespace, name)
    if wf is None:
        raise not_found("Workflow", name)
    return wf


async def _create(request: Request, wf: dict, dry_run: bool) -> dict:
    st = state(request)
    meta = wf["metadata"]
    lint(wf, "Workflow", meta["namespace"], st.store)
    if dry_run:
        return present({**wf, "status": {}})
    if st.store.workflow_phase(meta["name"], meta["namespace"]) is not None:
        raise already_exists("Workflow", meta["name"])
    return present(await st.controller.submit(wf))


# -- create / get / list / delete ------------------------------------------------------------

async def create_workflow(request: Request) -> JSONResponse:
    ns = request.path_params["namespace"]
    body = await json_body(request)
    wf = prepare_workflow(body.get("workflow"), ns, state(request).store)
    dry = bool(body.get("serverDryRun")) or "All" in ((body.get("createOptions") or {}).get("dryRun") or [])
    return JSONResponse(await _create(request, wf, dry))


async def get_workflow(request: Request) -> JSONResponse:
    ns, name = request.path_params["namespace"], request.path_params["name"]
    wf = present(_get_or_404(request, ns, name))
    return JSONResponse(selectors.project(wf, request.query_params.get("fields")))


def _needs_nodes(fields: str | None) -> bool:
    if not fields:
        return True
    paths = [p.strip() for p in fields.lstrip("-").split(",")]
    if fields.startswith("-"):
        return not any(p in ("items.status.nodes", "items.status", "items") for p in paths)
    return any("items.status.nodes".startswith(p) or p.startswith("items.status.nodes") for p in paths)


PAGE_TOKEN = "p:"   # continue tokens of the store's own paging (fast path) start with this


def _fast_page(request: Request, ns: str | None) -> tuple[list[dict], str | None] | None:
    """One page straight from the store's indexed query when every filter is one the store
    can apply (label equalities, phase, name prefix/contains, limit and continue); None when
    the request needs the general path."""
    q = request.query_params
    token = q.get("listOptions.continue") or ""
    if q.get("createdAfter") or q.get("finishedBefore") or (token and not token.startswith(PAGE_TOKEN)):
        return None
    try:
        limit = int(q.get("listOptions.limit") or 0)
    except ValueError:
        return None
    if limit <= 0:
        return None
    labels: dict[str, str] = {}
    for part in selectors.split_terms(q.get("listOptions.labelSelector") or ""):
        m = re.match(r"^([A-Za-z0-9_./-]+)\s*(==|=)\s*([A-Za-z0-9_.-]*)$", part)
        if not m or m.group(1).startswith("workflows.argoproj.io/"):
            return None
        labels[m.group(1)] = m.group(3)
    phases: list[str] | None = None
    prefix = contains = None
    mode = (q.get("nameFilter") or "Exact").capitalize()
    for part in selectors.split_terms(q.get("listOptions.fieldSelector") or ""):
        m = re.match(r"^([A-Za-z0-9_.]+)\s*(==|=)\s*(.*)$", part)
        if not m:
            return None
        key, value = m.group(1), m.group(3).strip()
        if key == "status.phase" and phases is None:
            phases = [value]
        elif key == "metadata.name" and mode == "Prefix" and prefix is None:
            prefix = value
        elif key == "metadata.name" and mode == "Contains" and contains is None:
            contains = value
        else:
            return None
    st = state(request)
    items, cursor = st.store.list_page(namespace=ns, phases=phases, labels=labels or None, name_prefix=prefix,
                                       name_contains=contains, limit=limit,
                                       after=token[len(PAGE_TOKEN):] if token else None)
    return items, (PAGE_TOKEN + cursor if cursor else None)


async def list_workflows(request: Request) -> JSONResponse:
    st = state(request)
    q = request.query_params
    ns = request.path_params.get("namespace") or None
    fields, name_filter = q.get("fields"), q.get("nameFilter")
    version = str(st.hub.version)     # read before the store: a change after it is replayed to a watch from it
    try:
        fast = await asyncio.to_thread(_fast_page, request, ns)
    except TiphysError as exc:
        raise invalid(str(exc)) from None
    if fast is not None:
        page, token = fast
        page = [present(st.controller.snapshot(w["metadata"].get("namespace") or "default", w["metadata"]["name"])
                        or w) for w in page]
        if page and _needs_nodes(fields):
            page = [present(st.controller.snapshot(w["metadata"]["namespace"], w["metadata"]["name"])
                            or st.store.get_workflow(w["metadata"]["name"], w["metadata"]["namespace"]) or w)
                    for w in page]
        metadata: dict[str, Any] = {"resourceVersion": version}
        if token:
            metadata["continue"] = token
        return JSONResponse(selectors.project({"metadata": metadata, "items": page or None}, fields))
    field_sel = q.get("listOptions.fieldSelector")
    accept_fields = selectors.field_selector(field_sel, name_filter)
    accept_labels = selectors.label_selector(q.get("listOptions.labelSelector"))
    in_time = selectors.time_bounds(q.get("createdAfter"), q.get("finishedBefore"))
    phase, prefix = selectors.exact_name(field_sel, name_filter)
    found = []
    for wf in st.store.list_workflows(namespace=ns, phase=phase, prefix=prefix, with_nodes=False):
        meta = wf.get("metadata") or {}
        live = st.controller.snapshot(meta.get("namespace") or "default", meta.get("name", ""))
        wf = present(live or wf)
        if accept_fields(wf) and accept_labels(wf) and in_time(wf):
            found.append(wf)
    page, token = selectors.paginate(found, q.get("listOptions.limit"), q.get("listOptions.continue"))
    if page and _needs_nodes(fields):
        full = []
        for wf in page:
            meta = wf["metadata"]
            live = st.controller.snapshot(meta["namespace"], meta["name"])
            stored = live or st.store.get_workflow(meta["name"], meta["namespace"])
            full.append(present(stored) if stored else wf)
        page = full
    metadata: dict[str, Any] = {"resourceVersion": version}
    if token:
        metadata["continue"] = token
    answer = {"metadata": metadata, "items": page or None}
    return JSONResponse(selectors.project(answer, fields))


async def delete_workflow(request: Request) -> JSONResponse:
    ns, name = request.path_params["namespace"], request.path_params["name"]
    _get_or_404(request, ns, name)
    await state(request).controller.delete(ns, name)   # it waits for the stop
    return JSONResponse({})


async def _stop(request: Request, terminate: bool) -> JSONResponse:
    ns, name = request.path_params["namespace"], request.path_params["name"]
    body = await json_body(request)
    wf = _get_or_404(request, ns, name)
    if (wf.get("status") or {}).get("phase") in COMPLETED_PHASES:
        raise ApiError(FAILED_PRECONDITION, f"cannot shutdown a completed workflow: workflow {name!r} is "
                                            f"{wf['status']['phase']}")
    strategy = "Terminate" if terminate else "Stop"
    message = body.get("message") or f"Stopped with strategy '{strategy}'"
    st = state(request)
    await st.controller.stop(ns, name, message, terminate=terminate)   # once the engine took it in
    return JSONResponse(present(_current(request, ns, name) or wf))


async def stop_workflow(request: Request) -> JSONResponse:
    return await _stop(request, terminate=False)


async def terminate_workflow(request: Request) -> JSONResponse:
    return await _stop(request, terminate=True)


# -- lint / submit -----------------------------------------------------------------------------

async def lint_workflow(request: Request) -> JSONResponse:
    ns = request.path_params["namespace"]
    body = await json_body(request)
    from tiphys.server.common import with_kind
    wf = with_kind(body.get("workflow"), "Workflow", "workflow")
    wf["metadata"]["namespace"] = ns
    lint(wf, "Workflow", ns, state(request).store)
    return JSONResponse(present(wf))


def _assignments(text: Any, what: str) -> dict[str, str]:
    """`k=v,k2=v2` (Argo's submitOptions.labels / annotations)."""
    if not text:
        return {}
    out = {}
    for part in str(text).split(","):
        k, sep, v = part.partition("=")
        if not sep or not k.strip():
            raise invalid(f"submitOptions.{what} {part!r}: expected key=value")
        out[k.strip()] = v
    return out


async def submit_workflow(request: Request) -> JSONResponse:
    """Create a Workflow that refers to a WorkflowTemplate or ClusterWorkflowTemplate."""
    st = state(request)
    ns = request.path_params["namespace"]
    body = await json_body(request)
    kind, name = body.get("resourceKind") or "", body.get("resourceName") or ""
    kinds = {"workflowtemplate": WORKFLOW_TEMPLATE, "clusterworkflowtemplate": CLUSTER_WORKFLOW_TEMPLATE}
    if kind.lower().replace("-", "") in ("cronworkflow", "cronworkflows", "cwf", "cronwf"):
        from tiphys.cron.api import submit_from_cron
        if not name:
            raise invalid("resourceName is required")
        return JSONResponse(present(await submit_from_cron(request, ns, name, body.get("submitOptions") or {})))
    kind = kinds.get(kind.lower().replace("-", ""), kind)
    if kind not in kinds.values():
        raise invalid(f"resourceKind {kind!r}: expected WorkflowTemplate, ClusterWorkflowTemplate or CronWorkflow")
    if not name:
        raise invalid("resourceName is required")
    if st.store.get_template(kind, name, ns) is None:
        raise not_found(kind, name)
    opts = body.get("submitOptions") or {}
    cluster = kind == CLUSTER_WORKFLOW_TEMPLATE
    label = "workflows.argoproj.io/cluster-workflow-template" if cluster else "workflows.argoproj.io/workflow-template"
    ref: dict[str, Any] = {"name": name}
    if cluster:
        ref["clusterScope"] = True
    meta: dict[str, Any] = {"generateName": f"{name}-", "labels": {label: name}}
    if opts.get("name"):
        check_name(opts["name"], "submitOptions.name")
        meta = {**meta, "name": opts["name"]}
    elif opts.get("generateName"):
        meta["generateName"] = opts["generateName"]
    meta["labels"].update(_assignments(opts.get("labels"), "labels"))
    annotations = _assignments(opts.get("annotations"), "annotations")
    if annotations:
        meta["annotations"] = annotations
    spec: dict[str, Any] = {"workflowTemplateRef": ref}
    if opts.get("entryPoint"):
        spec["entrypoint"] = opts["entryPoint"]
    if opts.get("serviceAccount"):
        spec["serviceAccountName"] = opts["serviceAccount"]
    if opts.get("priority") is not None:
        spec["priority"] = opts["priority"]
    params = []
    for item in opts.get("parameters") or []:
        k, sep, v = str(item).partition("=")
        if not sep or not k.strip():
            raise invalid(f"submitOptions.parameters {item!r}: expected name=value")
        params.append({"name": k.strip(), "value": v})
    if params:
        spec["arguments"] = {"parameters": params}
    raw = {"apiVersion": API_VERSION, "kind": "Workflow", "metadata": meta, "spec": spec}
    wf = prepare_workflow(raw, ns, st.store)
    return JSONResponse(await _create(request, wf, bool(opts.get("dryRun") or opts.get("serverDryRun"))))


# -- logs --------------------------------------------------------------------------------------

def _pod_name(wf_name: str, node: dict) -> str:
    """The `podName` the engine stored, else the engine's rule (engine/names.py)."""
    from tiphys.engine import names
    ref = node.get("templateRef") or {}
    return node.get("podName") or names.pod_name(wf_name, node.get("name") or "",
                                                 node.get("templateName") or ref.get("template") or "")


async def workflow_logs(request: Request) -> StreamingResponse:
    """Newline-delimited `{"result": {"content", "podName"}}`, one per log line: finished steps
    from the store, running ones from their live files; with follow, until the workflow ends."""
    st = state(request)
    ns, name = request.path_params["namespace"], request.path_params["name"]
    q = request.query_params
    _get_or_404(request, ns, name)
    pod = request.path_params.get("podName") or q.get("podName") or ""
    container = q.get("logOptions.container") or "main"
    follow = q.get("logOptions.follow") in ("true", "1", "True")
    grep = q.get("grep") or ""
    try:
        pattern = re.compile(grep) if grep else None
    except re.error as exc:
        raise invalid(f"grep {grep!r}: {exc}") from None
    try:
        tail = int(q.get("logOptions.tailLines") or 0)
    except ValueError:
        raise invalid("logOptions.tailLines must be an integer") from None
    streams = {"stdout": ("stdout",), "stderr": ("stderr",)}.get((q.get("logOptions.stream") or "").lower(),
                                                                 ("stdout", "stderr"))
    live_root = st.home / "logs" / name

    def lines_once(sent: dict[tuple[str, str], int]) -> tuple[list[dict], bool]:
        wf = _current(request, ns, name)
        if wf is None:
            return [], True
        done = (wf.get("status") or {}).get("phase") in COMPLETED_PHASES
        nodes = sorted(((wf.get("status") or {}).get("nodes") or {}).values(),
                       key=lambda n: (n.get("startedAt") or "~", n.get("name") or ""))
        by_id = {n.get("id"): n for n in nodes}
        stored: dict[str, dict[str, tuple[str, str]]] = {}
        for node_id, pod_name, stream, content in st.store.get_logs(name, container=container):
            stored.setdefault(node_id, {})[stream] = (pod_name, content)
        live_ids = [p.name for p in live_root.iterdir() if p.is_dir()] if live_root.is_dir() and container == "main" \
            else []
        order = list(dict.fromkeys([n.get("id") for n in nodes if n.get("type") == "Pod"]
                                   + list(stored) + live_ids))
        out = []
        for node_id in order:
            node = by_id.get(node_id) or {}
            if container != "main" and node_id not in stored:
                continue        # a sidecar's logs are read once its step ended
            for stream in streams:
                found = logfiles.read_stream(stored, live_root, node_id, stream)
                if found is None:
                    continue
                pod_stored, data, complete = found
                pod_name = pod_stored or (_pod_name(name, node) if node else node_id)
                if pod and pod not in (pod_name, node_id, node.get("name"), node.get("displayName")):
                    continue
                start = sent.get((node_id, stream), 0)
                end = len(data) if complete else data.rfind(b"\n", start) + 1
                if end <= start:
                    continue
                sent[(node_id, stream)] = end
                for line in data[start:end].decode(errors="replace").splitlines():
                    if pattern is None or pattern.search(line):
                        out.append({"result": {"content": line, "podName": pod_name}})
        return out, done

    async def stream() -> AsyncIterator[bytes]:
        sent: dict[tuple[str, str], int] = {}
        first = True
        while True:
            entries, done = await asyncio.to_thread(lines_once, sent)
            if first and tail > 0:
                entries = entries[-tail:]
            first = False
            if entries:
                yield "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries).encode()
            if done or not follow:
                return
            await asyncio.sleep(LOG_POLL)

    return StreamingResponse(stream(), media_type=STREAM_TYPE)


# -- watch -------------------------------------------------------------------------------------

def _named(field_sel: str | None, name_filter: str | None) -> str | None:
    """The one workflow name an exact `metadata.name=X` field selector asks for, if any."""
    if (name_filter or "Exact").capitalize() != "Exact":
        return None
    for part in selectors.split_terms(field_sel or ""):
        m = re.match(r"^metadata\.name\s*(==|=)\s*(.+)$", part)
        if m:
            return m.group(2).strip()
    return None


async def watch_workflows(request: Request) -> StreamingResponse:
    """`{"result": {"type": ADDED|MODIFIED|DELETED, "object": wf}}` lines: ADDED for every
    matching workflow first (as a Kubernetes watch without resourceVersion), then changes."""
    st = state(request)
    ns = request.path_params.get("namespace") or None
    q = request.query_params
    accept_fields = selectors.field_selector(q.get("listOptions.fieldSelector"), q.get("nameFilter"))
    accept_labels = selectors.label_selector(q.get("listOptions.labelSelector"))
    fields = q.get("fields")

    def accept(wf: dict) -> bool:
        wf = present(wf)
        return ((ns is None or wf["metadata"]["namespace"] == ns) and accept_fields(wf) and accept_labels(wf))

    def line(kind: str, wf: dict) -> bytes:
        obj = selectors.project({"result": {"type": kind, "object": present(wf)}}, fields)
        return (json.dumps(obj, ensure_ascii=False) + "\n").encode()

    # A watch from a resourceVersion (what a client that has just listed sends) gets the changes
    # since then, as a Kubernetes watch does; otherwise (or when those are no longer all kept)
    # every matching workflow first, as ADDED.
    since = q.get("listOptions.resourceVersion") or ""
    backlog: list[tuple[str, dict]] | None = None
    if since.isdigit():
        sub, backlog = st.hub.subscribe_since(accept, int(since))
    else:
        sub = st.hub.subscribe(accept)
    replay = backlog is None
    only = _named(q.get("listOptions.fieldSelector"), q.get("nameFilter"))

    def existing() -> list[dict]:
        if only is not None:
            found = st.store.get_workflow(only, ns) if ns else None
            return [found] if found else []
        return list(reversed(st.store.list_workflows(namespace=ns)))

    async def stream() -> AsyncIterator[bytes]:
        try:
            for wf in (await asyncio.to_thread(existing)) if replay else []:
                meta = wf.get("metadata") or {}
                wf = st.controller.snapshot(meta.get("namespace") or "default", meta.get("name", "")) or wf
                if accept(wf):
                    yield line("ADDED", wf)
            for kind, wf in backlog or []:
                yield line(kind, wf)
            while True:
                item = await sub.queue.get()
                if item is None:
                    return
                yield line(*item)
        finally:
            st.hub.unsubscribe(sub)

    return StreamingResponse(stream(), media_type=STREAM_TYPE)


ROUTES = [
    Route("/api/v1/workflows", list_workflows, methods=["GET"]),
    Route("/api/v1/workflows/", list_workflows, methods=["GET"]),
    Route("/api/v1/workflows/{namespace}", list_workflows, methods=["GET"]),
    Route("/api/v1/workflows/{namespace}", create_workflow, methods=["POST"]),
    Route("/api/v1/workflows/{namespace}/lint", lint_workflow, methods=["POST"]),
    Route("/api/v1/workflows/{namespace}/submit", submit_workflow, methods=["POST"]),
    Route("/api/v1/workflows/{namespace}/{name}", get_workflow, methods=["GET"]),
    Route("/api/v1/workflows/{namespace}/{name}", delete_workflow, methods=["DELETE"]),
    Route("/api/v1/workflows/{namespace}/{name}/stop", stop_workflow, methods=["PUT"]),
    Route("/api/v1/workflows/{namespace}/{name}/terminate", terminate_workflow, methods=["PUT"]),
    Route("/api/v1/workflows/{namespace}/{name}/log", workflow_logs, methods=["GET"]),
    Route("/api/v1/workflows/{namespace}/{name}/{podName}/log", workflow_logs, methods=["GET"]),
    Route("/api/v1/workflow-events", watch_workflows, methods=["GET"]),
    Route("/api/v1/workflow-events/", watch_workflows, methods=["GET"]),
    Route("/api/v1/workflow-events/{namespace}", watch_workflows, methods=["GET"]),
]
