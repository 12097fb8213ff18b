"""A small in-memory stand-in for the few Kubernetes API calls the `kubernetes` executor makes
(CoreV1Api's create/read/delete/list pod and pod log, the watch stream, the exec stream): the
seam of tiphys/executors/kube_client.py, nothing above it. Tests play the kubelet by setting
pod statuses (`set_status`), which the fake announces on its watch streams in resourceVersion
order, as the API server does."""
from __future__ import annotations

import copy
import io
import json
import tarfile
import threading
from typing import Any

from kubernetes.client.exceptions import ApiException

from tiphys.executors.kube_client import Cluster
from tiphys.k8s import clusterpod


def _refusal(status: int, message: str) -> ApiException:
    exc = ApiException(status=status, reason={403: "Forbidden", 404: "Not Found", 409: "Conflict"}.get(status, ""))
    exc.body = json.dumps({"kind": "Status", "status": "Failure", "message": message, "code": status})
    return exc


class _Log:
    def __init__(self, data: bytes):
        self.data = data

    def stream(self, amt: int):
        for at in range(0, len(self.data), 7):       # small chunks, as a live log arrives
            yield self.data[at:at + 7]

    def release_conn(self) -> None:
        pass


class FakeApi:
    """CoreV1Api's pod calls over an in-memory namespace, plus the watch and exec streams."""

    def __init__(self) -> None:
        self.pods: dict[tuple[str, str], dict[str, Any]] = {}
        self.events: list[tuple[int, str, str, dict[str, Any]]] = []    # (resourceVersion, ns, type, pod)
        self.rv = 0
        self.cond = threading.Condition()
        self.calls: list[str] = []
        self.streams_open: dict[str, int] = {}
        self.most_streams: dict[str, int] = {}
        self.quota_refusals = 0
        self.logs: dict[tuple[str, str], bytes] = {}          # (pod, container) -> its log
        self.files: dict[str, dict[str, bytes]] = {}         # pod -> /var/run/argo path -> content
        self.inputs: dict[str, dict[str, bytes]] = {}        # pod -> files unpacked into input-artifacts
        self.execs: list[tuple[str, str, list[str]]] = []
        self.deletes: list[tuple[str, Any]] = []
        self.kubelet = True           # the wait container ends once released, the pod with it
        self.closed = False

    # -- CoreV1Api ---------------------------------------------------------------------------

    def create_namespaced_pod(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append("create")
        name = body["metadata"]["name"]
        if self.quota_refusals:
            self.quota_refusals -= 1
            raise _refusal(403, f'pods "{name}" is forbidden: exceeded quota: compute, requested: pods=1, '
                                f'used: pods=2, limited: pods=2')
        if (namespace, name) in self.pods:
            raise _refusal(409, f'pods "{name}" already exists')
        pod = copy.deepcopy(body)
        pod["status"] = {"phase": "Pending"}
        self._put(namespace, "ADDED", pod)
        return copy.deepcopy(pod)

    def read_namespaced_pod(self, name: str, namespace: str) -> dict[str, Any]:
        self.calls.append("read")
        if (namespace, name) not in self.pods:
            raise _refusal(404, f'pods "{name}" not found')
        return copy.deepcopy(self.pods[(namespace, name)])

    def delete_namespaced_pod(self, name: str, namespace: str, grace_period_seconds: Any = None) -> None:
        self.calls.append("delete")
        self.deletes.append((name, grace_period_seconds))
        if (namespace, name) not in self.pods:
            raise _refusal(404, f'pods "{name}" not found')
        with self.cond:
            pod = self.pods.pop((namespace, name))
            self.rv += 1
            pod["metadata"]["resourceVersion"] = str(self.rv)
            self.events.append((self.rv, namespace, "DELETED", copy.deepcopy(pod)))
            self.cond.notify_all()

    def list_namespaced_pod(self, namespace: str, label_selector: str | None = None, **_: Any) -> dict[str, Any]:
        self.calls.append("list")
        key, _, value = (label_selector or "").partition("=")
        with self.cond:
            items = [copy.deepcopy(p) for (ns, _), p in self.pods.items() if ns == namespace
                     and (not key or (p["metadata"].get("labels") or {}).get(key) == value)]
            return {"items": items, "metadata": {"resourceVersion": str(self.rv)}}

    def read_namespaced_pod_log(self, name: str, namespace: str, container: str, follow: bool = False,
                                _preload_content: bool = True) -> _Log:
        self.calls.append("log")
        return _Log(self.logs.get((name, container), b""))

    # -- the watch and exec streams ----------------------------------------------------------

    def watch(self) -> "FakeWatch":
        return FakeWatch(self)

    def exec(self, api: Any, namespace: str, name: str, container: str, argv: list[str],
             stdin: bytes | None) -> tuple[int, bytes, bytes]:
        self.execs.append((name, container, argv))
        if "tar" in argv and "cf" in argv:
            out = io.BytesIO()
            with tarfile.open(fileobj=out, mode="w") as tar:
                for path, data in sorted(self.files.get(name, {}).items()):
                    info = tarfile.TarInfo(path)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
            return 0, out.getvalue(), b""
        if "touch" in argv and clusterpod.COLLECTED in argv:
            if self.kubelet:
                self._wait_ends(namespace, name)
            return 0, b"", b""
        if container == clusterpod.INPUTS_GATE and stdin is not None:
            with tarfile.open(fileobj=io.BytesIO(stdin)) as tar:
                self.inputs[name] = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
            return 0, b"", b""
        return 1, b"", b"unknown command"

    # -- the kubelet's side (tests) ----------------------------------------------------------

    def _put(self, namespace: str, kind: str, pod: dict[str, Any]) -> None:
        with self.cond:
            self.rv += 1
            pod["metadata"]["resourceVersion"] = str(self.rv)
            self.pods[(namespace, pod["metadata"]["name"])] = pod
            self.events.append((self.rv, namespace, kind, copy.deepcopy(pod)))
            self.cond.notify_all()

    def set_status(self, namespace: str, name: str, status: dict[str, Any], **meta: Any) -> None:
        with self.cond:
            pod = copy.deepcopy(self.pods[(namespace, name)])
            pod["status"] = status
            pod["metadata"].update(meta)
            self._put(namespace, "MODIFIED", pod)

    def _wait_ends(self, namespace: str, name: str) -> None:
        pod = self.pods.get((namespace, name))
        if pod is None:
            return
        status = copy.deepcopy(pod["status"])
        for s in status.get("containerStatuses") or []:
            if s["name"] == clusterpod.WAIT:
                s["state"] = {"terminated": {"exitCode": 0, "reason": "Completed"}}
        codes = [((s.get("state") or {}).get("terminated") or {}).get("exitCode")
                 for s in status.get("containerStatuses") or []]
        if all(c is not None for c in codes):
            status["phase"] = "Succeeded" if not any(codes) else "Failed"
        self.set_status(namespace, name, status)


class FakeWatch:
    def __init__(self, api: FakeApi):
        self.api = api

    def stream(self, func: Any, namespace: str, label_selector: str | None = None,
               resource_version: str | None = None, timeout_seconds: int = 1, **_: Any):
        api = self.api
        with api.cond:
            api.streams_open[namespace] = api.streams_open.get(namespace, 0) + 1
            api.most_streams[namespace] = max(api.most_streams.get(namespace, 0), api.streams_open[namespace])
        seen = int(resource_version or 0)
        try:
            while not api.closed:
                with api.cond:
                    fresh = [e for e in api.events if e[0] > seen and e[1] == namespace]
                    if not fresh:
                        if not api.cond.wait(timeout=timeout_seconds):
                            return                               # the watch's timeout: the caller watches again
                        continue
                for rv, _, kind, pod in fresh:
                    seen = rv
                    yield {"type": kind, "raw_object": copy.deepcopy(pod), "object": None}
        finally:
            with api.cond:
                api.streams_open[namespace] -= 1


def cluster(api: FakeApi) -> Cluster:
    return Cluster(api, watch_factory=api.watch, exec_fn=api.exec)


# -- statuses as a kubelet reports them -----------------------------------------------------

def running(*names: str) -> dict[str, Any]:
    return {"phase": "Running", "containerStatuses": [{"name": n, "state": {"running": {}}} for n in names]}


def main_ended(code: int, reason: str = "Error", others: tuple[str, ...] = ("wait",)) -> dict[str, Any]:
    return {"phase": "Running", "containerStatuses": [
        {"name": "main", "state": {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else reason}}},
        *({"name": n, "state": {"running": {}}} for n in others)]}
