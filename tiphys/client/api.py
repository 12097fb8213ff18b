"""`Client`: Argo Server's REST API (the paths and bodies of api/openapi-spec/swagger.json)
over one keep-alive httpx connection pool. Thread-safe, as httpx.Client is.

Every method returns the decoded JSON (Argo-shaped dicts) or raises a
tiphys.client.errors.ServerError subclass carrying the server's message.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx

from tiphys import __version__
from tiphys.client import errors
from tiphys.client.config import ServerConfig

WORKFLOW_TEMPLATE = "WorkflowTemplate"
CLUSTER_WORKFLOW_TEMPLATE = "ClusterWorkflowTemplate"
TIMEOUT = httpx.Timeout(60.0, connect=5.0)
STREAM_TIMEOUT = httpx.Timeout(None, connect=5.0)  # a followed log or a watch may be quiet for long


def _seg(text: str) -> str:
    return quote(str(text), safe="")


class Client:
    def __init__(self, url: str | ServerConfig, token: str | None = None, *,
                 transport: httpx.BaseTransport | None = None, timeout: httpx.Timeout = TIMEOUT):
        if isinstance(url, ServerConfig):
            url, token = url.url, url.token
        self.url = url.rstrip("/")
        headers = {"User-Agent": f"tiphys/{__version__}", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport)

    # -- plumbing --------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _unreachable(self, exc: httpx.TransportError) -> errors.ServerUnreachable:
        if isinstance(exc, httpx.ConnectError):
            reason = str(exc) or "connection refused"
            if "refused" in reason.lower() or "errno 111" in reason.lower():
                reason = "connection refused (is `tiphys server` running there?)"
            return errors.ServerUnreachable(f"cannot reach Tiphys server at {self.url}: {reason}")
        if isinstance(exc, httpx.TimeoutException):
            return errors.ServerUnreachable(f"Tiphys server at {self.url} did not answer in time "
                                            f"({type(exc).__name__})")
        return errors.ServerUnreachable(f"lost the connection to Tiphys server at {self.url}: "
                                        f"{exc or type(exc).__name__}")

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                body: Any = None) -> Any:
        params = {k: v for k, v in (params or {}).items() if v not in (None, "", False)}
        try:
            resp = self._http.request(method, path, params=params,
                                      json=body if body is not None else None)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None
        if resp.status_code >= 400:
            raise errors.from_response(resp.status_code, resp.content, f"{method} {path}")
        if not resp.content.strip():
            return {}
        try:
            return resp.json()
        except ValueError:
            raise errors.ServerFailure(f"{method} {path}: the server answered something that is not JSON "
                                       f"(is {self.url} a Tiphys or Argo server?)") from None

    def stream(self, path: str, params: dict[str, Any] | None = None) -> Iterator[Any]:
        """The `result` of every line of a newline-delimited JSON stream (logs, watches)."""
        params = {k: v for k, v in (params or {}).items() if v not in (None, "", False)}
        try:
            with self._http.stream("GET", path, params=params, timeout=STREAM_TIMEOUT) as resp:
                if resp.status_code >= 400:
                    raise errors.from_response(resp.status_code, resp.read(), f"GET {path}")
                for line in resp.iter_lines():
                    if not line.strip():
                        continue
                    try:
                        item = json.loads(line)
                    except ValueError:
                        raise errors.ServerFailure(f"GET {path}: a streamed line is not JSON: {line[:100]!r}") from None
                    if isinstance(item, dict) and item.get("error"):
                        err = item["error"]
                        raise errors.from_response(500, json.dumps(err).encode() if isinstance(err, dict)
                                                   else str(err).encode(), f"GET {path}")
                    yield item.get("result") if isinstance(item, dict) else item
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None

    # -- workflows ---------------------------------------------------------------------------

    @staticmethod
    def _wf(namespace: str, name: str | None = None, verb: str | None = None) -> str:
        path = f"/api/v1/workflows/{_seg(namespace)}"
        if name is not None:
            path += f"/{_seg(name)}"
        return path + (f"/{verb}" if verb else "")

    def create_workflow(self, namespace: str, wf: dict, *, server_dry_run: bool = False) -> dict:
        body: dict[str, Any] = {"namespace": namespace, "workflow": wf}
        if server_dry_run:
            body["serverDryRun"] = True
        return self.request("POST", self._wf(namespace), body=body)

    def submit_from(self, namespace: str, kind: str, name: str, options: dict[str, Any]) -> dict:
        """Create a Workflow from a WorkflowTemplate / ClusterWorkflowTemplate (`argo submit --from`)."""
        body = {"namespace": namespace, "resourceKind": kind, "resourceName": name,
                "submitOptions": {k: v for k, v in options.items() if v not in (None, "", [], {})}}
        return self.request("POST", f"{self._wf(namespace)}/submit", body=body)

    def lint_workflow(self, namespace: str, wf: dict) -> dict:
        return self.request("POST", f"{self._wf(namespace)}/lint", body={"namespace": namespace, "workflow": wf})

    def get_workflow(self, namespace: str, name: str, *, fields: str | None = None) -> dict:
        return self.request("GET", self._wf(namespace, name), params={"fields": fields})

    def list_workflows(self, namespace: str | None = None, *, label_selector: str | None = None,
                       field_selector: str | None = None, name_filter: str | None = None,
                       fields: str | None = None, limit: int | None = None,
                       chunk_size: int | None = None) -> list[dict]:
        """Every matching workflow, newest first, following `continue` tokens page by page;
        at most `limit` when given. `chunk_size` is the page size (0: one page, all of them)."""
        if fields and not fields.startswith("-") and "metadata" not in fields.split(","):
            fields = "metadata," + fields  # keep metadata.continue
        path = self._wf(namespace) if namespace else "/api/v1/workflows/"
        items: list[dict] = []
        token = None
        while True:
            page = chunk_size or None
            if limit:
                page = min(page or limit, limit - len(items))
            data = self.request("GET", path, params={
                "listOptions.labelSelector": label_selector, "listOptions.fieldSelector": field_selector,
                "nameFilter": name_filter, "fields": fields, "listOptions.limit": page,
                "listOptions.continue": token})
            items += data.get("items") or []
            token = (data.get("metadata") or {}).get("continue")
            if not token or (limit and len(items) >= limit):
                return items[:limit] if limit else items

    def delete_workflow(self, namespace: str, name: str) -> None:
        self.request("DELETE", self._wf(namespace, name))

    def workflow_action(self, namespace: str, name: str, verb: str, body: dict[str, Any] | None = None) -> dict:
        """PUT …/{name}/{verb}: retry, resubmit, stop, terminate, suspend, resume, set."""
        payload = {"name": name, "namespace": namespace, **(body or {})}
        return self.request("PUT", self._wf(namespace, name, verb), body=payload)

    def logs(self, namespace: str, name: str, *, pod: str | None = None, follow: bool = False,
             container: str = "main", grep: str | None = None, tail: int | None = None) -> Iterator[dict]:
        """`{"content", "podName"}` for every log line (until the workflow ends, with follow)."""
        params = {"logOptions.container": container, "logOptions.follow": "true" if follow else None,
                  "podName": pod, "grep": grep, "logOptions.tailLines": tail}
        for result in self.stream(self._wf(namespace, name, "log"), params):
            if isinstance(result, dict):
                yield result

    def watch(self, namespace: str | None = None, *, name: str | None = None,
              label_selector: str | None = None, fields: str | None = None) -> Iterator[tuple[str, dict]]:
        """(ADDED|MODIFIED|DELETED, workflow) events: the current matching workflows first."""
        path = f"/api/v1/workflow-events/{_seg(namespace)}" if namespace else "/api/v1/workflow-events/"
        params = {"listOptions.fieldSelector": f"metadata.name={name}" if name else None,
                  "listOptions.labelSelector": label_selector, "fields": fields}
        for result in self.stream(path, params):
            if isinstance(result, dict) and isinstance(result.get("object"), dict):
                yield str(result.get("type") or ""), result["object"]

    # -- WorkflowTemplates / ClusterWorkflowTemplates ---------------------------------------

    @staticmethod
    def _tpl(kind: str, namespace: str | None, name: str | None = None) -> str:
        if kind == CLUSTER_WORKFLOW_TEMPLATE:
            path = "/api/v1/cluster-workflow-templates"
        elif kind == WORKFLOW_TEMPLATE:
            path = f"/api/v1/workflow-templates/{_seg(namespace or 'default')}"
        else:
            raise ValueError(f"not a template kind: {kind}")
        return path + (f"/{_seg(name)}" if name is not None else "")

    def _tpl_body(self, kind: str, namespace: str | None, tpl: dict) -> dict[str, Any]:
        body: dict[str, Any] = {"template": tpl}
        if kind == WORKFLOW_TEMPLATE:
            body["namespace"] = namespace or "default"
        return body

    def create_template(self, kind: str, namespace: str | None, tpl: dict) -> dict:
        return self.request("POST", self._tpl(kind, namespace), body=self._tpl_body(kind, namespace, tpl))

    def update_template(self, kind: str, namespace: str | None, name: str, tpl: dict) -> dict:
        body = {**self._tpl_body(kind, namespace, tpl), "name": name}
        return self.request("PUT", self._tpl(kind, namespace, name), body=body)

    def lint_template(self, kind: str, namespace: str | None, tpl: dict) -> dict:
        return self.request("POST", self._tpl(kind, namespace) + "/lint", body=self._tpl_body(kind, namespace, tpl))

    def get_template(self, kind: str, namespace: str | None, name: str) -> dict:
        return self.request("GET", self._tpl(kind, namespace, name))

    def list_templates(self, kind: str, namespace: str | None = None, *,
                       label_selector: str | None = None) -> list[dict]:
        items: list[dict] = []
        token = None
        while True:
            data = self.request("GET", self._tpl(kind, namespace), params={
                "listOptions.labelSelector": label_selector, "listOptions.continue": token})
            items += data.get("items") or []
            token = (data.get("metadata") or {}).get("continue")
            if not token:
                return items

    def delete_template(self, kind: str, namespace: str | None, name: str) -> None:
        self.request("DELETE", self._tpl(kind, namespace, name))
