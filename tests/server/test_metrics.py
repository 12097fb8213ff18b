"""`/metrics` scraped from a live app (real workflows) and parsed with prometheus_client."""
from __future__ import annotations

import time
from types import SimpleNamespace

from prometheus_client.parser import text_string_to_metric_families
from server_helpers import NS, hello, sleeper, wait_phase

from tiphys.server.metrics import Metrics


def scrape(client) -> dict[str, dict[tuple, float]]:
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    found: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            found.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return found


def test_workflows_by_phase_and_entered_counts(client):
    before = scrape(client)
    assert before["argo_workflows_gauge"][(("phase", "Succeeded"),)] == 0
    assert before["argo_workflows_count"][(("status", "Running"),)] == 0
    for name in ("m1", "m2"):
        assert client.post(f"/api/v1/workflows/{NS}", json={"workflow": hello(name)}).status_code == 200
    for name in ("m1", "m2"):
        wait_phase(client, name)
    after = scrape(client)
    assert after["argo_workflows_gauge"][(("phase", "Succeeded"),)] == 2
    assert after["argo_workflows_count"][(("status", "Succeeded"),)] == 2
    assert after["argo_workflows_gauge"][(("phase", "Running"),)] == 0
    entered = after["argo_workflows_total_count"]
    assert entered[(("namespace", NS), ("phase", "Pending"))] == 2
    assert entered[(("namespace", NS), ("phase", "Succeeded"))] == 2


def test_queue_depth_and_busy_workers(make_client):
    client = make_client(parallelism=1)
    for name in ("busy", "waiting"):
        assert client.post(f"/api/v1/workflows/{NS}", json={"workflow": sleeper(name, 30)}).status_code == 200
    wait_phase(client, "busy", phases=("Running",))
    deadline = time.monotonic() + 10
    while True:
        found = scrape(client)
        depth = found["argo_workflows_queue_depth_gauge"][(("queue_name", "workflow_queue"),)]
        if depth == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert depth == 1
    assert found["argo_workflows_queue_depth_count"][(("queue_name", "workflow_queue"),)] == 1
    assert found["argo_workflows_workers_busy_count"][(("worker_type", "workflow_queue"),)] == 1
    assert found["argo_workflows_gauge"][(("phase", "Running"),)] == 1
    assert found["argo_workflows_gauge"][(("phase", "Pending"),)] == 1
    for name in ("busy", "waiting"):
        client.put(f"/api/v1/workflows/{NS}/{name}/terminate", json={})


def test_metrics_need_no_token_in_client_mode(home):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from tiphys.server.app import create_app
    with TestClient(create_app(home, auth_mode="client")) as client:
        assert client.get("/api/v1/workflows/argo").status_code == 401
        assert "argo_workflows_gauge" in scrape(client)


def test_operation_durations_from_the_controller_hook():
    """A controller with `operation_observers` reports each operation's seconds."""
    controller = SimpleNamespace(operation_observers=[], queued=lambda: 0, running=lambda: 0)
    store = SimpleNamespace(list_workflows=lambda **_: [])
    metrics = Metrics(SimpleNamespace(store=store, controller=controller, hub=None))
    assert len(controller.operation_observers) == 1
    for seconds in (0.002, 0.003, 0.7):
        controller.operation_observers[0](seconds)
    found: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for s in family.samples:
            found.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    assert found["argo_workflows_operation_duration_seconds_count"][()] == 3
    assert found["argo_workflows_operation_duration_seconds_bucket"][(("le", "0.005"),)] == 2
    assert abs(found["argo_workflows_operation_duration_seconds_sum"][()] - 0.705) < 1e-9
