"""Workflow operations beyond create/delete: retry, resubmit, suspend, resume, set, and the
download of a step's output artifacts (Argo Server's /artifact-files)."""
from __future__ import annotations

import json
import tarfile
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tiphys.server.common import present, state
from tiphys.server.controller import NotRunning
from tiphys.server.errors import FAILED_PRECONDITION, ApiError, invalid, json_body, not_found


def _params(body: dict[str, Any]) -> list[str]:
    found = body.get("parameters") or []
    if not isinstance(found, list) or not all(isinstance(p, str) for p in found):
        raise invalid("parameters must be a list of 'name=value' strings")
    return found


def _answer(request: Request, ns: str, name: str) -> JSONResponse:
    st = state(request)
    wf = st.controller.snapshot(ns, name) or st.store.get_workflow(name, ns)
    if wf is None:
        raise not_found("Workflow", name)
    return JSONResponse(present(wf))


def _exists(request: Request, ns: str, name: str) -> None:
    st = state(request)
    if st.controller.snapshot(ns, name) is None and st.store.workflow_phase(name, ns) is None:
        raise not_found("Workflow", name)


async def retry_workflow(request: Request) -> JSONResponse:
    ns, name = request.path_params["namespace"], request.path_params["name"]
    body = await json_body(request)
    _exists(request, ns, name)
    try:
        wf = await state(request).controller.retry(ns, name, restart_successful=bool(body.get("restartSuccessful")),
                                             node_field_selector=str(body.get("nodeFieldSelector") or ""),
                                             parameters=_params(body))
    except NotRunning as exc:
        raise ApiError(FAILED_PRECONDITION, str(exc)) from None
    return JSONResponse(present(wf))


async def resubmit_workflow(request: Request) -> JSONResponse:
    ns, name = request.path_params["namespace"], request.path_params["name"]
    body = await json_body(request)
    _exists(request, ns, name)
    wf = await state(request).controller.resubmit(ns, name, memoized=bool(body.get("memoized")), parameters=_params(body))
    return JSONResponse(present(wf))


async def _send(request: Request, what: str) -> JSONResponse:
    ns, name = request.path_params["namespace"], request.path_params["name"]
    body = await json_body(request)
    _exists(request, ns, name)
    ctl = state(request).controller
    selector = str(body.get("nodeFieldSelector") or "")
    try:
        if what == "suspend":
            await ctl.suspend(ns, name)
        elif what == "resume":
            await ctl.resume(ns, name, selector)
        else:
            raw = body.get("outputParameters") or {}
            if isinstance(raw, str):
                try:
                    raw = json.loads(raw)
                except ValueError:
                    raise invalid("outputParameters must be a JSON object of name to value") from None
            if not isinstance(raw, dict):
                raise invalid("outputParameters must be a JSON object of name to value")
            if not selector:
                raise invalid("nodeFieldSelector is required")
            await ctl.set_nodes(ns, name, selector, phase=body.get("phase") or None, message=body.get("message") or None,
                          output_parameters={str(k): str(v) for k, v in raw.items()})
    except NotRunning as exc:
        raise ApiError(FAILED_PRECONDITION, str(exc)) from None
    return _answer(request, ns, name)


async def suspend_workflow(request: Request) -> JSONResponse:
    return await _send(request, "suspend")


async def resume_workflow(request: Request) -> JSONResponse:
    return await _send(request, "resume")


async def set_workflow(request: Request) -> JSONResponse:
    return await _send(request, "set")


async def artifact_file(request: Request) -> Response:
    """The content of output artifact `artifactName` of node `nodeId`: a single file as is, a
    folder as the stored .tgz."""
    st = state(request)
    p = request.path_params
    ns, name, node_id, art_name = p["namespace"], p["name"], p["nodeId"], p["artifactName"]
    if p.get("kind", "workflows") != "workflows" or p.get("direction", "outputs") != "outputs":
        raise invalid("only /artifact-files/{namespace}/workflows/{name}/{nodeId}/outputs/{artifactName} is served")
    wf = st.controller.snapshot(ns, name) or st.store.get_workflow(name, ns)
    if wf is None:
        raise not_found("Workflow", name)
    nodes = (wf.get("status") or {}).get("nodes") or {}
    node = nodes.get(node_id) or next((n for n in nodes.values() if n.get("name") == node_id), None)
    if node is None:
        raise ApiError(5, f'node "{node_id}" not found in workflow "{name}"')
    art = next((a for a in ((node.get("outputs") or {}).get("artifacts") or []) if a.get("name") == art_name), None)
    if art is not None and isinstance(art.get("s3"), dict):
        return await _from_s3(st, wf, art)
    key = ((art or {}).get("local") or {}).get("key")
    if not key:
        raise ApiError(5, f'artifact "{art_name}" not found on node "{node_id}"')
    root = (st.home / "artifacts").resolve()
    stored = (root / key).resolve()
    if root not in stored.parents:
        raise invalid(f"artifact key {key!r} is outside the artifact store")
    filename = art_name
    if key.endswith(".tgz"):
        with tarfile.open(stored, "r:gz") as tar:
            member = tar.getmember("data") if "data" in tar.getnames() else None
            if member is not None and member.isfile():
                extracted = tar.extractfile(member)
                content = extracted.read() if extracted else b""
            else:
                content, filename = stored.read_bytes(), f"{art_name}.tgz"
    else:
        data = stored / "data"
        if not data.is_file():
            raise invalid(f"artifact {art_name!r} is a folder stored without an archive; download it from the store")
        content = data.read_bytes()
    return Response(content, media_type="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


async def _from_s3(st: Any, wf: dict[str, Any], art: dict[str, Any]) -> Response:
    """Stream an S3 artifact as stored (a .tgz stays a tarball), as Argo Server does; the
    bytes go from S3 to the client in 1 MiB chunks, never whole in memory."""
    import asyncio
    import posixpath

    from tiphys.runtime import artifacts
    meta = wf.get("metadata") or {}
    repos = artifacts.Repositories(st.home, (wf.get("status") or {}).get("artifactRepositoryRef"), meta,
                                   artifacts.secret_reader(st.store, st.home, meta.get("namespace") or "default"),
                                   wf.get("spec") or {})
    store = repos.s3_for(art["s3"])
    key = str(art["s3"].get("key") or "")
    if store is None or not key:
        raise invalid(f"artifact {art.get('name')!r} names no S3 bucket (the workflow's repository has none)")
    chunks, size = await asyncio.to_thread(store.stream, key)

    async def body() -> Any:
        it = iter(chunks)
        while True:
            chunk = await asyncio.to_thread(next, it, None)
            if chunk is None:
                return
            yield chunk
    headers = {"Content-Disposition": f'attachment; filename="{posixpath.basename(key)}"'}
    if size is not None:
        headers["Content-Length"] = str(size)
    return StreamingResponse(body(), media_type="application/octet-stream", headers=headers)


ROUTES = [
    Route("/api/v1/workflows/{namespace}/{name}/retry", retry_workflow, methods=["PUT"]),
    Route("/api/v1/workflows/{namespace}/{name}/resubmit", resubmit_workflow, methods=["PUT"]),
    Route("/api/v1/workflows/{namespace}/{name}/suspend", suspend_workflow, methods=["PUT"]),
    Route("/api/v1/workflows/{namespace}/{name}/resume", resume_workflow, methods=["PUT"]),
    Route("/api/v1/workflows/{namespace}/{name}/set", set_workflow, methods=["PUT"]),
    Route("/artifact-files/{namespace}/{kind}/{name}/{nodeId}/{direction}/{artifactName}", artifact_file,
          methods=["GET"]),
    Route("/artifacts/{namespace}/{name}/{nodeId}/{artifactName}", artifact_file, methods=["GET"]),
]
