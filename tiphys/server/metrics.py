"""`/metrics`: Prometheus text format (version 0.0.4), with Argo's workflow-controller metric
names where Tiphys has the same thing (Argo v3.6 names, and the pre-3.6 names dashboards
still query):

| metric | type | what |
|---|---|---|
| `argo_workflows_gauge{phase}` (3.6) / `argo_workflows_count{status}` (<= 3.5) | gauge | workflows in the store in each phase, every phase listed |
| `argo_workflows_queue_depth_gauge{queue_name="workflow_queue"}` (3.6) / `argo_workflows_queue_depth_count` (<= 3.5) | gauge | workflows waiting for a free slot (controller `queued()`) |
| `argo_workflows_workers_busy_count{worker_type="workflow_queue"}` | gauge | workflows running now (controller `running()`) |
| `argo_workflows_total_count{phase,namespace}` | untyped counter | workflows that entered each phase since the server started |
| `argo_workflows_operation_duration_seconds` | histogram | one engine operation (reconcile), when the controller reports them |

`total_count` is a counter written without the `_total` suffix prometheus_client would add, so
the sample name is Argo's; it is typed `untyped` so the exposition stays consistent.
Operation durations come from the controller: if it has a list `operation_observers`, each
callable in it is called with the seconds of one operation; this module appends to it.

Each app has its own CollectorRegistry (no process-global state). Gauges are read at scrape
time (one store query, off the event loop), so they cannot drift.
"""
from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PHASES = ("Pending", "Running", "Succeeded", "Failed", "Error")
QUEUE = "workflow_queue"
REMEMBER = 100_000  # workflows whose last phase is kept to count phase changes once
# An engine operation takes milliseconds here (Argo's reconciles take tenths of seconds).
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The metrics of one app over its `State` (store, controller, hub)."""

    def __init__(self, state: Any):
        self.state = state
        self.registry = CollectorRegistry(auto_describe=True)
        self.operation = Histogram("argo_workflows_operation_duration_seconds",
                                   "Histogram of durations of operations (one engine reconcile of a workflow)",
                                   buckets=BUCKETS, registry=self.registry)
        self._lock = threading.Lock()
        self._phase_of: OrderedDict[tuple[str, str], str] = OrderedDict()  # last phase seen, newest last
        self._entered: dict[tuple[str, str], int] = {}
        self.registry.register(_Collector(self))
        observers = getattr(state.controller, "operation_observers", None)
        if isinstance(observers, list):
            observers.append(self.operation.observe)
        hub = getattr(state, "hub", None)
        if hub is not None:
            # The hub has no observer API: a subscription whose accept() records the workflow and
            # answers False sees every publish, on the publisher's thread, and queues nothing.
            hub.subscribe(self._observe)

    def _observe(self, wf: dict) -> bool:
        meta = wf.get("metadata") or {}
        key = (meta.get("namespace") or "default", meta.get("name") or "")
        phase = (wf.get("status") or {}).get("phase") or ""
        with self._lock:
            if phase and self._phase_of.get(key) != phase:
                self._entered[(phase, key[0])] = self._entered.get((phase, key[0]), 0) + 1
            if phase:
                self._phase_of[key] = phase
                self._phase_of.move_to_end(key)
                if len(self._phase_of) > REMEMBER:
                    self._phase_of.popitem(last=False)
        return False

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Collector:
    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    def describe(self) -> list:
        return []

    def collect(self) -> Any:
        st = self.metrics.state
        counts = dict.fromkeys(PHASES, 0)
        for wf in st.store.list_workflows(with_nodes=False):
            meta = wf.get("metadata") or {}     # a running workflow's newest state is the controller's
            wf = st.controller.snapshot(meta.get("namespace") or "default", meta.get("name", "")) or wf
            phase = (wf.get("status") or {}).get("phase") or "Pending"
            counts[phase] = counts.get(phase, 0) + 1
        gauge = GaugeMetricFamily("argo_workflows_gauge", "Number of workflows currently accessible by the "
                                  "controller by phase", labels=["phase"])
        legacy = GaugeMetricFamily("argo_workflows_count", "Number of Workflows currently accessible by the "
                                   "controller by status (Argo <= 3.5 name)", labels=["status"])
        for phase, n in counts.items():
            gauge.add_metric([phase], n)
            legacy.add_metric([phase], n)
        yield gauge
        yield legacy
        queued, running = st.controller.queued(), st.controller.running()
        depth = GaugeMetricFamily("argo_workflows_queue_depth_gauge", "Depth of the queue", labels=["queue_name"])
        depth.add_metric([QUEUE], queued)
        yield depth
        old_depth = GaugeMetricFamily("argo_workflows_queue_depth_count",
                                      "Depth of the queue (Argo <= 3.5 name)", labels=["queue_name"])
        old_depth.add_metric([QUEUE], queued)
        yield old_depth
        busy = GaugeMetricFamily("argo_workflows_workers_busy_count", "Number of workers currently busy",
                                 labels=["worker_type"])
        busy.add_metric([QUEUE], running)
        yield busy
        total = Metric("argo_workflows_total_count", "Total number of workflows that entered each phase, "
                       "by namespace, since the server started", "unknown")
        with self.metrics._lock:
            entered = sorted(self.metrics._entered.items())
        for (phase, namespace), n in entered:
            total.add_sample("argo_workflows_total_count", {"phase": phase, "namespace": namespace}, n)
        yield total


async def metrics(request: Request) -> Response:
    """Prometheus metrics (text format 0.0.4); no token needed."""
    found = getattr(request.app.state, "metrics", None)
    if found is None:
        found = request.app.state.metrics = Metrics(request.app.state.tiphys)
    body = await asyncio.to_thread(found.render)
    return Response(body, media_type=CONTENT_TYPE)


ROUTES = [Route("/metrics", metrics, methods=["GET"])]
