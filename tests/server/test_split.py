"""Processes sharing one store: `tiphys server --no-controller` + `tiphys controller`; and two
full servers on one PostgreSQL, where the survivor takes over the workflows of one killed."""
from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from live import spawn, start_server
from live import stop as stop_all

pytestmark = pytest.mark.integration
NS = "argo"


def server(home: Path, *args: str, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    return start_server(home, *args, env=env)


def wf(name: str, templates: list) -> dict:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": name},
            "spec": {"entrypoint": "main", "templates": templates}}


def phase(url: str, name: str) -> str | None:
    r = httpx.get(f"{url}/api/v1/workflows/{NS}/{name}")
    return r.json()["status"].get("phase") if r.status_code == 200 else None


def wait_for(url: str, name: str, phases=("Succeeded", "Failed", "Error"), timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = httpx.get(f"{url}/api/v1/workflows/{NS}/{name}")
        if r.status_code == 200 and r.json()["status"].get("phase") in phases:
            return r.json()
        assert time.monotonic() < deadline, f"{name}: {r.status_code} {r.text[:300]}"
        time.sleep(0.1)


GATE = [{"name": "main", "steps": [[{"name": "approve", "template": "gate"}], [{"name": "after", "template": "say"}]]},
        {"name": "gate", "suspend": {}},
        {"name": "say", "container": {"image": "busybox", "command": ["echo", "after the gate"]}}]
SLEEP = [{"name": "main", "container": {"image": "busybox", "command": ["sleep", "60"]}}]


def test_api_only_server_and_a_separate_controller(tmp_path):
    api, url = server(tmp_path, "--no-controller")
    ctl = spawn(tmp_path, "controller", "--log-level", "warning")
    try:
        r = httpx.post(f"{url}/api/v1/workflows/{NS}", json={"workflow": wf("hello", [
            {"name": "main", "container": {"image": "busybox", "command": ["echo", "from the controller"]}}])})
        assert r.status_code == 200 and r.json()["status"]["phase"] == "Pending"
        assert wait_for(url, "hello")["status"]["phase"] == "Succeeded"
        logs = httpx.get(f"{url}/api/v1/workflows/{NS}/hello/log").text
        assert "from the controller" in logs
        # requests the API cannot act on itself reach the controller through the store
        httpx.post(f"{url}/api/v1/workflows/{NS}", json={"workflow": wf("gate", GATE)})
        deadline = time.monotonic() + 30
        while True:
            nodes = (httpx.get(f"{url}/api/v1/workflows/{NS}/gate").json()["status"].get("nodes") or {}).values()
            if any(n["displayName"] == "approve" and n["phase"] == "Running" for n in nodes):
                break
            assert time.monotonic() < deadline
            time.sleep(0.1)
        r = httpx.put(f"{url}/api/v1/workflows/{NS}/gate/resume", json={})
        assert r.status_code == 200, r.text
        assert wait_for(url, "gate")["status"]["phase"] == "Succeeded"
        httpx.post(f"{url}/api/v1/workflows/{NS}", json={"workflow": wf("sleepy", SLEEP)})
        wait_for(url, "sleepy", phases=("Running",), timeout=30)
        r = httpx.put(f"{url}/api/v1/workflows/{NS}/sleepy/terminate", json={})
        assert r.status_code == 200, r.text
        done = wait_for(url, "sleepy", timeout=30)
        assert done["status"]["phase"] == "Failed" and "Terminate" in done["status"]["message"]
    finally:
        stop_all(api, ctl)


def test_two_servers_on_postgres_one_killed(tmp_path, fresh_postgres):
    db = fresh_postgres
    env = {"TIPHYS_LEASE_TTL": "3"}
    homes = [tmp_path / "a", tmp_path / "b"]
    for h in homes:
        h.mkdir()
    a, url_a = server(homes[0], "--store", db, env=env)
    b, url_b = server(homes[1], "--store", db, env=env)
    try:
        steps = [[{"name": f"s{i}", "template": "nap"}] for i in range(4)]
        r = httpx.post(f"{url_a}/api/v1/workflows/{NS}", json={"workflow": wf("moving", [
            {"name": "main", "steps": steps},
            {"name": "nap", "retryStrategy": {"limit": 2, "retryPolicy": "Always"},
             "container": {"image": "busybox", "command": ["sleep", "0.5"]}}])})
        assert r.status_code == 200
        wait_for(url_b, "moving", phases=("Running",), timeout=30)     # B sees A's workflow in the shared store
        time.sleep(0.8)
        a.send_signal(signal.SIGKILL)
        a.wait()
        done = wait_for(url_b, "moving", timeout=60)                     # B takes it over once A's lease lapses
        assert done["status"]["phase"] == "Succeeded", done["status"].get("message")
        pods = [n for n in done["status"]["nodes"].values() if n["type"] == "Pod"]
        assert len([n for n in pods if n["phase"] == "Succeeded"]) == 4
        # the step A was running when it died is lost (Error) and retried by B
        lost = [n for n in pods if n["phase"] == "Error"]
        assert len(lost) <= 1 and all("lost" in n["message"] for n in lost)
    finally:
        stop_all(a, b)


def test_on_postgres_processes_hear_each_other_at_once(tmp_path, fresh_postgres):
    """LISTEN/NOTIFY: with every poll set to a minute, a controller still adopts a submission
    of an API-only server at once and takes its terminate at once, and the API server's watch
    stream shows the controller's progress."""
    import json
    import threading
    db = fresh_postgres
    slow = {"TIPHYS_ADOPT_EVERY": "60", "TIPHYS_COMMAND_POLL_LISTENING": "60"}
    api, url = server(tmp_path, "--no-controller", "--store", db, env=slow)
    ctl = spawn(tmp_path, "controller", "--store", db, "--log-level", "warning", env=slow)
    seen: list[tuple[str, str, str]] = []

    def watch() -> None:
        try:
            with httpx.stream("GET", f"{url}/api/v1/workflow-events/{NS}", timeout=None) as r:
                for line in r.iter_lines():
                    if line.strip():
                        res = json.loads(line)["result"]
                        seen.append((res["type"], res["object"]["metadata"]["name"],
                                     (res["object"].get("status") or {}).get("phase", "")))
        except httpx.HTTPError:
            pass                           # the server stopped at the end of the test
    threading.Thread(target=watch, daemon=True).start()
    try:
        time.sleep(2)                      # the controller has made its first look for work
        r = httpx.post(f"{url}/api/v1/workflows/{NS}", json={"workflow": wf("heard", [
            {"name": "main", "container": {"image": "busybox", "command": ["echo", "heard"]}}])})
        assert r.status_code == 200, r.text
        assert wait_for(url, "heard", timeout=30)["status"]["phase"] == "Succeeded"
        deadline = time.monotonic() + 10
        while ("MODIFIED", "heard", "Succeeded") not in seen:
            assert time.monotonic() < deadline, seen
            time.sleep(0.1)
        assert ("MODIFIED", "heard", "Running") in seen
        httpx.post(f"{url}/api/v1/workflows/{NS}", json={"workflow": wf("halted", SLEEP)})
        wait_for(url, "halted", phases=("Running",), timeout=30)
        r = httpx.put(f"{url}/api/v1/workflows/{NS}/halted/terminate", json={})
        assert r.status_code == 200, r.text
        assert wait_for(url, "halted", timeout=30)["status"]["phase"] == "Failed"
        r = httpx.delete(f"{url}/api/v1/workflows/{NS}/heard")
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 10
        while not any(t == "DELETED" and n == "heard" for t, n, _ in seen):
            assert time.monotonic() < deadline, seen
            time.sleep(0.1)
    finally:
        stop_all(api, ctl)
