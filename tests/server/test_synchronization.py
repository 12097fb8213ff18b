"""Locks across workflows run by one real server (both stores): a mutex never lets two holders
overlap, whether the workflow or a template asks for it; a semaphore's size comes from a
ConfigMap in the store."""
from __future__ import annotations

import time

import pytest

from server_helpers import NS, wait_phase
from tiphys.engine import names

pytestmark = pytest.mark.integration


def locked(name: str, *, level: str, lock: dict) -> dict:
    step = {"name": "main", "container": {"image": "busybox", "command": ["sleep", "1"]}}
    spec: dict = {"entrypoint": "main", "templates": [step]}
    if level == "workflow":
        spec["synchronization"] = lock
    else:
        step["synchronization"] = lock
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": name, "namespace": NS}, "spec": spec}


def spans(wfs: list[dict]) -> list[tuple[float, float]]:
    found = []
    for wf in wfs:
        for n in wf["status"]["nodes"].values():
            if n["type"] == "Pod":
                found.append((names.parse_timestamp(n["startedAt"]), names.parse_timestamp(n["finishedAt"])))
    return sorted(found)


def submit(client, wf):
    r = client.post(f"/api/v1/workflows/{NS}", json={"workflow": wf})
    assert r.status_code == 200, r.text


def seen_waiting(client, name: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        wf = client.get(f"/api/v1/workflows/{NS}/{name}").json()
        if "Waiting for" in (wf["status"].get("message") or "") or any(
                n.get("synchronizationStatus") for n in (wf["status"].get("nodes") or {}).values()):
            return wf
        time.sleep(0.02)
    raise AssertionError(f"{name} never waited for its lock")


@pytest.mark.parametrize("level", ["workflow", "template"])
def test_two_workflows_with_one_mutex_do_not_overlap(client, level):
    lock = {"mutexes": [{"name": "shared"}]}
    submit(client, locked("first", level=level, lock=lock))
    submit(client, locked("second", level=level, lock=lock))
    waiting = seen_waiting(client, "second") if level == "workflow" else None
    wfs = [wait_phase(client, n, timeout=30) for n in ("first", "second")]
    assert [wf["status"]["phase"] for wf in wfs] == ["Succeeded", "Succeeded"]
    (s1, e1), (s2, e2) = spans(wfs)
    assert s2 >= e1, f"overlap: {(s1, e1)} {(s2, e2)}"
    if waiting is not None:
        assert waiting["status"]["phase"] == "Pending"
        assert waiting["status"]["message"] == f"Waiting for {NS}/Mutex/shared lock. Lock status: 0/1"
    for wf in wfs:
        assert "synchronization" not in wf["status"]


def test_semaphore_size_from_a_configmap(client, open_test_store):
    with open_test_store() as store:
        store.save_configmap({"metadata": {"name": "sizes", "namespace": NS}, "data": {"wf": "2"}})
    lock = {"semaphores": [{"configMapKeyRef": {"name": "sizes", "key": "wf"}}]}
    for name in ("s1", "s2", "s3"):
        submit(client, locked(name, level="template", lock=lock))
    wfs = [wait_phase(client, n, timeout=30) for n in ("s1", "s2", "s3")]
    assert all(wf["status"]["phase"] == "Succeeded" for wf in wfs)
    runs = spans(wfs)
    at_once = max(sum(1 for s, e in runs if s <= t < e) for t, _ in runs)
    assert at_once == 2, runs
