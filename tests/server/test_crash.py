"""Steps outlive the controller: kill -9 (or SIGTERM) the server while 10 workflows run and
start it again, or kill one of two controllers sharing PostgreSQL: every workflow Succeeds,
no step runs twice, and each step running at the kill finishes as the same attempt.

Steps report to an HTTP counter in this test process (the sandbox shares the host's
network), so "ran again" is observed from outside Tiphys, not from its own records."""
from __future__ import annotations

import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from live import start_server, stop

pytestmark = pytest.mark.integration
NS = "argo"
COUNT = 10
DONE = ("Succeeded", "Failed", "Error")


class Counter:
    def __init__(self):
        self.hits: list[tuple[float, str, str, str]] = []   # (time, workflow, step, start|end)
        self.lock = threading.Lock()
        counter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                parts = self.path.strip("/").split("/")
                with counter.lock:
                    counter.hits.append((time.time(), *parts))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def workflow(name: str, port: int) -> dict:
    """A chain of four 1.5 s steps, no retryStrategy: a step that fails fails the workflow."""
    source = (
        "import time, urllib.request\n"
        f"base = 'http://127.0.0.1:{port}/{{{{workflow.name}}}}/{{{{inputs.parameters.i}}}}'\n"
        "urllib.request.urlopen(base + '/start').read()\n"
        "time.sleep(1.5)\n"
        "urllib.request.urlopen(base + '/end').read()\n")
    steps = [[{"name": f"s{i}", "template": "work", "arguments": {"parameters": [{"name": "i", "value": str(i)}]}}]
             for i in range(1, 5)]
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": name},
            "spec": {"entrypoint": "main", "templates": [
                {"name": "main", "steps": steps},
                {"name": "work", "inputs": {"parameters": [{"name": "i"}]},
                 "script": {"image": "python:3.11", "command": ["python3"], "source": source}}]}}


def server(home: Path, store: str | None = None, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    return start_server(home, "--parallelism", "10", *(["--store", store] if store else []), env=env)


def running_pods(url: str) -> dict[tuple[str, str], str]:
    """(workflow, step number) -> startedAt of every step pod shown Running."""
    found = {}
    for i in range(COUNT):
        wf = httpx.get(f"{url}/api/v1/workflows/{NS}/crash-{i:02d}").json()
        for n in (wf["status"].get("nodes") or {}).values():
            if n["type"] == "Pod" and n["phase"] == "Running":
                found[(wf["metadata"]["name"], n["displayName"][1:])] = n["startedAt"]
    return found


def check_after(url: str, counter: Counter, killed_at: float, running: dict) -> None:
    """10 of 10 Succeeded, every step started once (observed from outside), and each step that
    ran at the kill finished as the same attempt, its start time unchanged."""
    deadline = time.monotonic() + 120
    while True:
        items = httpx.get(f"{url}/api/v1/workflows/{NS}", params={"fields": "items.metadata.name,items.status.phase"}
                          ).json()["items"] or []
        phases = {w["metadata"]["name"]: w["status"]["phase"] for w in items}
        if len(phases) == COUNT and all(p in DONE for p in phases.values()):
            break
        assert time.monotonic() < deadline, f"not finished after restart: {phases}"
        time.sleep(0.2)
    assert set(phases.values()) == {"Succeeded"}, [
        (n["name"], n["phase"], n.get("message")) for w in phases if phases[w] != "Succeeded"
        for n in httpx.get(f"{url}/api/v1/workflows/{NS}/{w}").json()["status"]["nodes"].values()
        if n["type"] == "Pod" and n["phase"] != "Succeeded"]
    with counter.lock:
        hits = list(counter.hits)
    starts: dict[tuple[str, str], int] = {}
    for _, w, s, what in hits:
        if what == "start":
            starts[(w, s)] = starts.get((w, s), 0) + 1
    assert len(starts) == COUNT * 4 and set(starts.values()) == {1}, f"steps run more than once: {starts}"
    assert {(w, s) for _, w, s, what in hits if what == "end"} == set(starts)
    assert running, "the kill should fall while steps run"
    for (w, s), started in running.items():
        wf = httpx.get(f"{url}/api/v1/workflows/{NS}/{w}").json()
        pods = [n for n in wf["status"]["nodes"].values() if n["type"] == "Pod" and n["displayName"] == f"s{s}"]
        assert len(pods) == 1 and pods[0]["phase"] == "Succeeded", pods
        assert pods[0]["startedAt"] == started, (w, s, pods[0]["startedAt"], started)
    assert killed_at


def submit_all(url: str, counter: Counter) -> dict:
    for i in range(COUNT):
        r = httpx.post(f"{url}/api/v1/workflows/{NS}", json={"workflow": workflow(f"crash-{i:02d}", counter.port)})
        assert r.status_code == 200, r.text
    time.sleep(2.5)                       # the first steps ended, the second ones run
    return running_pods(url)


@pytest.mark.parametrize("backend,how", [("sqlite", signal.SIGKILL), ("postgres", signal.SIGKILL),
                                         ("sqlite", signal.SIGTERM)])
def test_server_stopped_while_10_workflows_run(tmp_path, request, backend, how):
    store = request.getfixturevalue("fresh_postgres") if backend == "postgres" else None
    home = tmp_path / "home"
    home.mkdir()
    counter = Counter()
    proc, url = server(home, store)
    try:
        running = submit_all(url, counter)
    finally:
        proc.send_signal(how)
        proc.wait(timeout=30)
    killed_at = time.time()
    proc, url = server(home, store)
    try:
        check_after(url, counter, killed_at, running)
    finally:
        stop(proc)


def test_two_controllers_on_postgres_one_killed(tmp_path, fresh_postgres):
    """Two servers share one PostgreSQL; the one running the workflows is killed: the other
    takes them over once its lease lapses and re-attaches to the running steps."""
    homes = [tmp_path / "a", tmp_path / "b"]
    for h in homes:
        h.mkdir()
    env = {"TIPHYS_LEASE_TTL": "3"}
    counter = Counter()
    a, url_a = server(homes[0], fresh_postgres, env)
    try:
        running = submit_all(url_a, counter)
        b, url_b = server(homes[1], fresh_postgres, env)
    finally:
        a.send_signal(signal.SIGKILL)
        a.wait()
    killed_at = time.time()
    try:
        check_after(url_b, counter, killed_at, running)
    finally:
        stop(b)
