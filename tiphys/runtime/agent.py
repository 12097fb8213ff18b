"""The shell's side of `http` and `data` steps (see engine/agent.py): the HTTP request, made
with httpx, and the listing of an artifact location. Only I/O happens here: the reply goes
back to the engine in a PodExited, and the engine decides the node's phase from it.

Transport errors are worded as Go's net/http words them (`Get "<url>": dial tcp ...:
connect: connection refused`), as Argo's agent reports them on the node. A header taken
from a secret (`valueFrom.secretKeyRef`) is resolved here, when the request is made; its
value is masked (`***`) in the response body and headers before they leave this module.
"""
from __future__ import annotations

import asyncio
import errno
import socket
import ssl
from typing import TYPE_CHECKING, Any


from tiphys.artifacts.local import LocalRepository
from tiphys.engine import actions as A
from tiphys.engine import agent
from tiphys.errors import TiphysError
from tiphys.runtime import steps
from tiphys.spec.lintvalues import ARTIFACT_LOCATIONS

if TYPE_CHECKING:
    import httpx   # imported where a request is made: a tenth of a second of every run's start-up

    from tiphys.runtime.runner import Runner


async def step(runner: Runner, action: A.StartPod) -> None:
    """Run an http or data step of `runner`'s workflow here, in the controller; stopped and
    timed out as a process is."""
    nid = action.node_id
    await runner._journal_started(nid)
    secrets = steps.secret_lookup(runner.store, runner.home, runner.wf["metadata"].get("namespace") or "default")
    handle = Handle(asyncio.ensure_future(perform(action, runner.repo, secrets)))
    runner.handles[nid] = handle
    if nid in runner.stop_on_start:
        runner.stop_on_start.discard(nid)
        await handle.stop()
    timer = None
    if action.deadline is not None:
        timer = asyncio.get_running_loop().call_later(action.deadline, runner._deadline, nid)
    try:
        event = A.PodExited(nid, None, reply=await handle.work)
    except asyncio.CancelledError:
        if not handle.stopped:
            raise
        late = nid in runner.deadlines
        event = A.PodExited(nid, None, deadline_exceeded=late, stopped=not late)
    finally:
        if timer:
            timer.cancel()
        runner.handles.pop(nid, None)
    runner.events.put_nowait(event)


def is_agent_step(action: A.StartPod) -> bool:
    return any(kind in action.template for kind in agent.KINDS)


class Handle:
    """What the runner stops (StopPod, a deadline): the request or listing in progress."""

    def __init__(self, work: asyncio.Future[Any]):
        self.work, self.stopped = work, False

    async def stop(self, grace: float = 0.0) -> None:
        self.stopped = True
        self.work.cancel()


async def perform(action: A.StartPod, repo: Any, secrets: Any) -> dict[str, Any]:
    """The reply of an http or data step (see actions.PodExited.reply)."""
    tmpl = action.template
    if "http" in tmpl:
        return await request(tmpl["http"] or {}, secrets)
    return await asyncio.to_thread(list_source, tmpl["data"] or {}, repo)


def pretend(action: A.StartPod, mock: dict[str, Any]) -> dict[str, Any]:
    """A dry run's reply: status 200 (or the mock's `status_code`) with the mock's stdout as
    the body; a data step lists the mock's `keys`."""
    if "http" in action.template:
        return {"statusCode": int(mock.get("status_code", 200)), "body": str(mock.get("stdout", "")), "headers": {}}
    return {"keys": [str(k) for k in mock.get("keys") or []]}


# ------------------------------------------------------------------ http
async def request(spec: dict[str, Any], secrets: Any) -> dict[str, Any]:
    method = str(spec.get("method") or "GET")
    url = str(spec.get("url") or "")
    op = f'{method[:1].upper()}{method[1:].lower()} "{url}"'   # Go's url.Error
    try:
        body = agent.body_bytes(spec)
        headers, hidden = _headers(spec, secrets)
    except TiphysError as exc:
        return {"error": str(exc)}
    masks = steps.mask_list(hidden)
    timeout = spec.get("timeoutSeconds")
    import httpx
    try:
        async with httpx.AsyncClient(verify=not _true(spec.get("insecureSkipVerify")), follow_redirects=True,
                                     timeout=None) as client:
            call = _send(client, method, url, body, headers)
            status, raw_body, raw_headers = await (call if timeout in (None, "") else
                                                   asyncio.wait_for(call, float(timeout)))
    except asyncio.TimeoutError:
        return {"error": f"{op}: context deadline exceeded"}
    except httpx.UnsupportedProtocol:
        return {"error": f'{op}: unsupported protocol scheme "{_scheme(url)}"'}
    except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
        return {"error": f"{op}: {_transport(url, exc)}"}
    found: dict[str, list[str]] = {}
    for name, value in raw_headers:
        found.setdefault(agent.canonical_header(name), []).append(steps.mask(value, masks))
    return {"statusCode": status, "body": steps.mask(raw_body, masks), "headers": found}


async def _send(client: httpx.AsyncClient, method: str, url: str, body: bytes,
                headers: list[tuple[str, str]]) -> tuple[int, str, list[tuple[str, str]]]:
    response = await client.request(method, url, content=body or None, headers=headers)
    data = await response.aread()
    return (response.status_code, data.decode("utf-8", errors="replace"),
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw])


def _headers(spec: dict[str, Any], secrets: Any) -> tuple[list[tuple[str, str]], list[str]]:
    """The request's headers (a `Host` header sets the host asked for) and the secret values in them."""
    found: list[tuple[str, str]] = []
    hidden: list[str] = []
    for i, h in enumerate(spec.get("headers") or []):
        if not isinstance(h, dict) or not h.get("name"):
            continue
        value = str(h.get("value") or "")
        ref = (h.get("valueFrom") or {}).get("secretKeyRef") if isinstance(h.get("valueFrom"), dict) else None
        if isinstance(ref, dict):
            if secrets is None:
                raise TiphysError(f"http.headers[{i}].valueFrom.secretKeyRef: secrets are not available to this run")
            value = secrets.value(str(ref.get("name") or ""), str(ref.get("key") or ""),
                                  bool(ref.get("optional"))) or ""
            hidden.append(value)
        found.append((str(h["name"]), value))
    return found, hidden


def _transport(url: str, exc: BaseException) -> str:
    """The error as Go words it where the cause is known (refused, unknown host), else httpx's."""
    import httpx
    cause: BaseException | None = exc
    while cause is not None and not (isinstance(cause, OSError) and cause.errno is not None):
        cause = cause.__cause__ or cause.__context__   # httpx: "All connection attempts failed"
    try:
        parsed = httpx.URL(url)
        host, port = parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80)
    except (httpx.InvalidURL, TypeError, ValueError):
        host, port = "", 0
    if isinstance(cause, ssl.SSLCertVerificationError):
        return f"tls: failed to verify certificate: {cause.verify_message or cause}"
    if isinstance(cause, ssl.SSLError):
        return f"tls: {cause.reason or cause}"
    if isinstance(cause, socket.gaierror):
        return f"dial tcp: lookup {host}: no such host"
    if isinstance(cause, OSError) and cause.errno == errno.ECONNREFUSED:
        return f"dial tcp {host}:{port}: connect: connection refused"
    if isinstance(exc, httpx.ConnectError) and isinstance(cause, OSError) and cause.strerror:
        return f"dial tcp {host}:{port}: connect: {cause.strerror.lower()}"
    return str(exc) or str(cause or "") or type(exc).__name__


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


# ------------------------------------------------------------------ data
def list_source(spec: dict[str, Any], repo: Any) -> dict[str, Any]:
    """The object keys under `source.artifactPaths`: an `s3` location (its own or the workflow's
    repository's bucket, listed with the S3 API, as Argo's ListObjects) or Tiphys' local
    repository (`local.key`); an error reply for a source or location it cannot read."""
    source = spec.get("source")
    paths = source.get("artifactPaths") if isinstance(source, dict) else None
    if not isinstance(paths, dict):
        return {"error": "no valid source is used for data template"}
    name = paths.get("name") or "artifactPaths"
    local = paths.get("local")
    s3 = paths.get("s3")
    try:
        if isinstance(local, dict):
            return {"keys": repo.list_keys(str(local.get("key") or ""))}
        store = repo.s3_for(s3) if isinstance(s3, dict) and hasattr(repo, "s3_for") else None
        if store is not None:
            return {"keys": store.keys(str(s3.get("key") or ""))}
    except TiphysError as exc:
        return {"error": f"unable to source artifact paths: {exc}"}
    kinds = [k for k in ARTIFACT_LOCATIONS if k in paths]
    why = (f"{kinds[0]} artifact locations are not supported by Tiphys yet (it lists s3 buckets and its "
           "local artifact repository, `local.key`)") if kinds and kinds[0] != "s3" else \
        f"artifact {name!r} names no bucket (give s3.bucket or configure an S3 artifact repository)" \
        if kinds else f"artifact {name!r} has no location (Tiphys lists s3 buckets and `local.key`)"
    return {"error": f"unable to source artifact paths: {why}"}
