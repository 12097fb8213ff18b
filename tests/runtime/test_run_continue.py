"""`tiphys run` killed with SIGKILL mid-step: its step runs to its end, `tiphys get` shows the
workflow Running with a note that its runner is gone, and `tiphys run --continue NAME`
finishes it: the step running at the kill is the same attempt (one pod, start time unchanged),
no finished step runs again.

Steps report to an HTTP counter in this test process (the host executor shares the host's
network), so "ran again" is observed from outside Tiphys, not from its own records."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from test_run_processes import TIPHYS, run

pytestmark = pytest.mark.integration


def _counter() -> tuple[list[str], int]:
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path.strip("/"))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return hits, httpd.server_address[1]


def _chain(port: int) -> dict:
    source = ("import time, urllib.request\n"
              f"base = 'http://127.0.0.1:{port}/{{{{inputs.parameters.i}}}}'\n"
              "urllib.request.urlopen(base + '/start').read()\n"
              "time.sleep(2)\n"
              "urllib.request.urlopen(base + '/end').read()\n")
    steps = [[{"name": f"s{i}", "template": "work", "arguments": {"parameters": [{"name": "i", "value": str(i)}]}}]
             for i in range(1, 4)]
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "killed"},
            "spec": {"entrypoint": "main", "templates": [
                {"name": "main", "steps": steps},
                {"name": "work", "inputs": {"parameters": [{"name": "i"}]},
                 "script": {"image": "python:3.11", "command": ["python3"], "source": source}}]}}


def _wait(what, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("timed out")


def _pods(wf: dict, name: str) -> list[dict]:
    return [n for n in wf["status"]["nodes"].values() if n["type"] == "Pod" and n["displayName"] == name]


def _get(home: Path) -> dict:
    r = run(home, "get", "killed", "-o", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("step_ends_first,executor", [(True, "host"), (False, "host"), (True, "docker")],
                         ids=["step-ended-meanwhile", "step-still-running", "docker-container-ended-meanwhile"])
def test_sigkilled_run_is_continued(tmp_path, step_ends_first, executor):
    if executor == "docker" and shutil.which("podman") is None:
        pytest.skip("podman is not installed")
    hits, port = _counter()
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(_chain(port)))
    home = tmp_path / "home"
    proc = subprocess.Popen([TIPHYS, "run", str(path), "-o", "json", "--executor", executor], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=dict(os.environ, TIPHYS_HOME=str(home)))
    try:
        _wait(lambda: "2/start" in hits)

        def s2_running() -> str | None:
            pods = _pods(_get(home), "s2") if home.exists() else []
            return pods[0]["startedAt"] if pods and pods[0]["phase"] == "Running" else None
        started = _wait(s2_running)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "2/end" not in hits, "the kill should fall while s2 runs"
    shown = _get(home)
    assert shown["status"]["phase"] == "Running"
    assert "tiphys run --continue killed" in shown["status"]["message"]
    listed = run(home, "list")
    assert "--continue killed" in listed.stdout, listed.stdout
    if step_ends_first:
        _wait(lambda: "2/end" in hits)     # the step ran to its end without any Tiphys process
        assert "3/start" not in hits

    r = run(home, "run", "--continue", "killed", "-o", "json")
    assert r.returncode == 0, r.stderr
    assert f"executor {executor}: 2 steps (s2, s3)" in r.stderr    # the killed run's executor, recorded
    final = json.loads(r.stdout)
    assert final["status"]["phase"] == "Succeeded", final["status"]
    pods = _pods(final, "s2")
    assert len(pods) == 1 and pods[0]["phase"] == "Succeeded" and pods[0]["startedAt"] == started, pods
    starts = [h for h in hits if h.endswith("/start")]
    assert sorted(starts) == ["1/start", "2/start", "3/start"], hits
    logs = run(home, "logs", "killed")
    assert logs.returncode == 0
    stored = _get(home)
    assert stored["status"]["phase"] == "Succeeded" and not stored["status"].get("message")

    again = run(home, "run", "--continue", "killed")
    assert again.returncode == 1 and "nothing to continue" in again.stderr and "Traceback" not in again.stderr


def test_continue_refuses_a_live_run_and_unknown_names(tmp_path):
    hits, port = _counter()
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(_chain(port)))
    home = tmp_path / "home"
    proc = subprocess.Popen([TIPHYS, "run", str(path), "-o", "name"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=dict(os.environ, TIPHYS_HOME=str(home)))
    try:
        _wait(lambda: "1/start" in hits)
        r = run(home, "run", "--continue", "killed")
        assert r.returncode == 1 and f"`tiphys run` process {proc.pid}" in r.stderr, r.stderr
        assert "message" not in _get(home)["status"] or "--continue" not in _get(home)["status"]["message"]
    finally:
        proc.send_signal(signal.SIGTERM)    # Ctrl-C / SIGTERM still stops the workflow
        proc.wait(timeout=20)
    assert _get(home)["status"]["phase"] == "Failed"
    missing = run(home, "run", "--continue", "nope")
    assert missing.returncode == 1 and "not found" in missing.stderr
