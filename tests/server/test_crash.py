"""kill -9 the server while 20 workflows run; restart it: every workflow finishes, no step
that had finished runs again, steps that were running end in Error and are retried.

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
COUNT = 20
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
    source = (
        "import time, urllib.request\n"
        f"base = 'http://127.0.0.1:{port}/{{{{workflow.name}}}}/{{{{inputs.parameters.i}}}}'\n"
        "urllib.request.urlopen(base + '/start').read()\n"
        "time.sleep(0.6)\n"
        "urllib.request.urlopen(base + '/end').read()\n")
    steps = [[{"name": f"s{i}", "template": "work", "arguments": {"parameters": [{"name": "i", "value": str(i)}]}}]
             for i in range(1, 5)]
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": name},
            "spec": {"entrypoint": "main", "templates": [
                {"name": "main", "steps": steps},
                {"name": "work", "retryStrategy": {"limit": 3, "retryPolicy": "Always"},
                 "inputs": {"parameters": [{"name": "i"}]},
                 "script": {"image": "python:3.11", "command": ["python3"], "source": source}}]}}


def server(home: Path, store: str | None = None) -> tuple[subprocess.Popen, str]:
    return start_server(home, "--parallelism", "8", *(["--store", store] if store else []))


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_kill_9_while_20_workflows_run(tmp_path, request, backend):
    store = request.getfixturevalue("fresh_postgres") if backend == "postgres" else None
    home = tmp_path / "home"
    home.mkdir()
    counter = Counter()
    proc, url = server(home, store)
    try:
        for i in range(COUNT):
            r = httpx.post(f"{url}/api/v1/workflows/{NS}", json={"workflow": workflow(f"crash-{i:02d}", counter.port)})
            assert r.status_code == 200, r.text
        time.sleep(2.5)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    killed_at = time.time()
    time.sleep(0.5)
    with counter.lock:
        before = list(counter.hits)
    ended = {(w, s) for t, w, s, what in before if what == "end" and t < killed_at - 0.5}
    started = {(w, s) for t, w, s, what in before if what == "start"}
    interrupted = started - {(w, s) for t, w, s, what in before if what == "end"}
    assert ended and interrupted, f"the kill should fall while steps run: {before}"

    proc, url = server(home, store)
    try:
        deadline = time.monotonic() + 120
        while True:
            items = httpx.get(f"{url}/api/v1/workflows/{NS}", params={"fields": "items.metadata.name,items.status.phase"}
                              ).json()["items"] or []
            phases = {w["metadata"]["name"]: w["status"]["phase"] for w in items}
            if len(phases) == COUNT and all(p in DONE for p in phases.values()):
                break
            assert time.monotonic() < deadline, f"not finished after restart: {phases}"
            time.sleep(0.2)
        assert set(phases.values()) == {"Succeeded"}, phases
        with counter.lock:
            after = [h for h in counter.hits if h[0] > killed_at]
        rerun = {(w, s) for t, w, s, what in after if what == "start"}
        assert not (rerun & ended), f"finished steps ran again: {sorted(rerun & ended)}"
        # every step ran to its end exactly once after its last start, and the interrupted ones
        # were retried: their first attempt ended in Error with the lost-process message
        for w, s in interrupted:
            wf = httpx.get(f"{url}/api/v1/workflows/{NS}/{w}").json()
            attempts = sorted((n for n in wf["status"]["nodes"].values() if n["displayName"].startswith(f"s{s}(")),
                              key=lambda n: n["displayName"])
            assert attempts[0]["phase"] == "Error" and "lost" in attempts[0]["message"], attempts
            assert attempts[-1]["phase"] == "Succeeded"
        for i in range(COUNT):
            for s in "1234":
                assert (f"crash-{i:02d}", s) in {(w, st) for _, w, st, what in counter.hits if what == "end"}
    finally:
        stop(proc)
