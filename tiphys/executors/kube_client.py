"""The `kubernetes` executor's few calls to a cluster, through the official `kubernetes` client,
and its one watch per namespace.

`Cluster` wraps a `CoreV1Api` (create, read, delete and list pods, follow a container's log)
plus the two things the client does outside CoreV1Api: the watch stream (`watch.Watch`) and
the exec websocket (`kubernetes.stream`). Tests replace exactly those (a small in-memory fake
of the calls below: tests/executors/kube_fake.py); everything above them is the executor's own
logic and runs unchanged against the fake.

`Watches` keeps ONE watch per namespace, shared by every step of that namespace (as Argo's pod
informer): a thread lists the namespace's Tiphys pods once, then watches from that
resourceVersion on (listing again after a `410 Gone`), and hands each event to the step
subscribed to that pod's name, on the step's event loop. No step polls its pod.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from tiphys.errors import InfrastructureError

log = logging.getLogger("tiphys.executors.kubernetes")

Event = Callable[[str, dict[str, Any]], None]      # (ADDED|MODIFIED|DELETED, pod as a dict)


class ApiError(InfrastructureError):
    """A refusal of the API server: its HTTP status and Kubernetes' own message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _api_error(exc: Exception) -> Exception:
    status = getattr(exc, "status", None)
    if status is None:
        return exc
    message = str(getattr(exc, "reason", "") or exc)
    try:
        message = json.loads(getattr(exc, "body", "") or "{}").get("message") or message
    except (ValueError, AttributeError):
        pass
    return ApiError(int(status), message)


def connect() -> Any:
    """A CoreV1Api for the in-cluster service account, else the current kubeconfig context
    ($KUBECONFIG or ~/.kube/config); InfrastructureError saying so when there is neither."""
    try:
        from kubernetes import client, config
    except ImportError as exc:
        raise InfrastructureError(f"executor kubernetes: the `kubernetes` Python client is not installed ({exc})")
    try:
        config.load_incluster_config()
    except config.ConfigException:
        where = os.environ.get("KUBECONFIG") or "~/.kube/config"
        try:
            config.load_kube_config()
        except Exception as exc:  # noqa: BLE001 - no file, no context, a broken file: one message
            raise InfrastructureError(
                f"executor kubernetes: no cluster to run on: not inside a cluster (no service account) "
                f"and no usable kubeconfig ({where}): {exc}") from None
    return client.CoreV1Api()


def _default_watch() -> Any:
    from kubernetes import watch
    return watch.Watch()


def _default_exec(api: Any, namespace: str, name: str, container: str, argv: list[str],
                  stdin: bytes | None) -> tuple[int, bytes, bytes]:
    from kubernetes.stream import stream
    ws = stream(api.connect_get_namespaced_pod_exec, name, namespace, container=container, command=argv,
                stdin=stdin is not None, stdout=True, stderr=True, tty=False, _preload_content=False, binary=True)
    out, err = bytearray(), bytearray()
    try:
        if stdin is not None:
            for at in range(0, len(stdin), 1 << 16):
                ws.write_stdin(stdin[at:at + (1 << 16)])
            ws.close_channel(0)
        while ws.is_open():
            ws.update(timeout=1)
            out += ws.read_stdout() or b""
            err += ws.read_stderr() or b""
        out += ws.read_stdout() or b""
        err += ws.read_stderr() or b""
        return int(ws.returncode or 0), bytes(out), bytes(err)
    finally:
        ws.close()


class Cluster:
    """The calls the executor makes (blocking: the executor runs them in threads)."""

    def __init__(self, api: Any, watch_factory: Callable[[], Any] | None = None,
                 exec_fn: Callable[..., tuple[int, bytes, bytes]] | None = None):
        self.api = api
        self._watch_factory = watch_factory or _default_watch
        self._exec = exec_fn or _default_exec

    def _dict(self, obj: Any) -> dict[str, Any]:
        if isinstance(obj, dict):
            return obj
        return self.api.api_client.sanitize_for_serialization(obj)

    def create(self, namespace: str, pod: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._dict(self.api.create_namespaced_pod(namespace, pod))
        except Exception as exc:  # noqa: BLE001
            raise _api_error(exc) from None

    def read(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self._dict(self.api.read_namespaced_pod(name, namespace))
        except Exception as exc:  # noqa: BLE001
            err = _api_error(exc)
            if isinstance(err, ApiError) and err.status == 404:
                return None
            raise err from None

    def delete(self, namespace: str, name: str, grace: float | None = None) -> bool:
        """Delete a pod; False when it was not there."""
        kwargs = {} if grace is None else {"grace_period_seconds": max(0, int(grace))}
        try:
            self.api.delete_namespaced_pod(name, namespace, **kwargs)
            return True
        except Exception as exc:  # noqa: BLE001
            err = _api_error(exc)
            if isinstance(err, ApiError) and err.status == 404:
                return False
            raise err from None

    def list(self, namespace: str, selector: str) -> tuple[list[dict[str, Any]], str | None]:
        found = self._dict(self.api.list_namespaced_pod(namespace, label_selector=selector))
        return list(found.get("items") or []), (found.get("metadata") or {}).get("resourceVersion")

    def watch(self, namespace: str, selector: str, resource_version: str | None,
              timeout: int) -> Iterator[tuple[str, dict[str, Any]]]:
        w = self._watch_factory()
        for event in w.stream(self.api.list_namespaced_pod, namespace, label_selector=selector,
                              resource_version=resource_version, timeout_seconds=timeout):
            raw = event.get("raw_object")
            yield str(event.get("type")), raw if isinstance(raw, dict) else self._dict(event.get("object"))

    def follow_log(self, namespace: str, name: str, container: str) -> Iterator[bytes]:
        """A container's log as it is written, until the container ends."""
        resp = self.api.read_namespaced_pod_log(name, namespace, container=container, follow=True,
                                                _preload_content=False)
        try:
            yield from resp.stream(1 << 14)
        finally:
            resp.release_conn()

    def log(self, namespace: str, name: str, container: str) -> bytes:
        resp = self.api.read_namespaced_pod_log(name, namespace, container=container, _preload_content=False)
        try:
            return bytes(resp.data)
        finally:
            resp.release_conn()

    def exec(self, namespace: str, name: str, container: str, argv: list[str],
             stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
        return self._exec(self.api, namespace, name, container, argv, stdin)


class Watches:
    """One watch per namespace (a thread each), events routed to subscribers by pod name."""

    def __init__(self, cluster: Cluster, selector: str, timeout: int = 60):
        self.cluster = cluster
        self.selector = selector
        self.timeout = timeout
        self._lock = threading.Lock()
        self._subs: dict[tuple[str, str], tuple[asyncio.AbstractEventLoop, Event]] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._closed = False
        self.started = 0                  # watches opened (list + watch loops), for tests and metrics

    def subscribe(self, namespace: str, name: str, callback: Event) -> Callable[[], None]:
        """Route the events of pod `name` to `callback` (on the caller's loop); returns the
        unsubscribe function."""
        loop = asyncio.get_running_loop()
        with self._lock:
            self._subs[(namespace, name)] = (loop, callback)
            if namespace not in self._threads or not self._threads[namespace].is_alive():
                thread = threading.Thread(target=self._run, args=(namespace,), daemon=True,
                                          name=f"tiphys-watch-{namespace}")
                self._threads[namespace] = thread
                self.started += 1
                thread.start()

        def unsubscribe() -> None:
            with self._lock:
                self._subs.pop((namespace, name), None)
        return unsubscribe

    def close(self) -> None:
        self._closed = True

    def _wanted(self, namespace: str) -> bool:
        with self._lock:
            return not self._closed and any(ns == namespace for ns, _ in self._subs)

    def _dispatch(self, namespace: str, kind: str, pod: dict[str, Any]) -> None:
        name = str((pod.get("metadata") or {}).get("name") or "")
        with self._lock:
            sub = self._subs.get((namespace, name))
        if sub is not None:
            loop, callback = sub
            try:
                loop.call_soon_threadsafe(callback, kind, pod)
            except RuntimeError:       # that loop is closed: its step is gone
                pass

    def _run(self, namespace: str) -> None:
        version: str | None = None
        idle = 0.0
        while not self._closed:
            if not self._wanted(namespace):
                idle = idle or time.monotonic()
                if time.monotonic() - idle > self.timeout:
                    with self._lock:                      # nobody left: let the next subscriber restart it
                        if not any(ns == namespace for ns, _ in self._subs):
                            self._threads.pop(namespace, None)
                            return
                time.sleep(0.05)
                continue
            idle = 0.0
            try:
                if version is None:
                    items, version = self.cluster.list(namespace, self.selector)
                    for pod in items:
                        self._dispatch(namespace, "MODIFIED", pod)
                for kind, pod in self.cluster.watch(namespace, self.selector, version, self.timeout):
                    if kind == "ERROR":
                        version = None if pod.get("code") == 410 else version
                        break
                    version = (pod.get("metadata") or {}).get("resourceVersion") or version
                    if kind != "BOOKMARK":
                        self._dispatch(namespace, kind, pod)
                    if self._closed:
                        return
            except Exception as exc:  # noqa: BLE001 - the API server restarted, 410 Gone...
                if getattr(exc, "status", None) != 410:
                    log.warning("watch of pods in namespace %s: %s; watching again", namespace, exc)
                    time.sleep(1.0)
                version = None
